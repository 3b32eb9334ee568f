"""Words of a ``regression`` readout: a linear model whose target has a known error."""

from __future__ import annotations

from typing import Any

from readout.wording.common import diagnostic_problems, sampling_line
from readout.wording.numbers import (
    Units,
    decimals_for,
    estimate,
    hdi_range,
    interval,
    number,
    prob,
    span,
    width,
)
from readout.wording.pieces import Body, Figure, Table

Bundle = dict[str, Any]

VERDICT_LABELS = {"fitted": "Fitted", "withheld": "Verdict withheld"}
#: A regression's data problems stop the readout (exit 2); it emits no warnings.
WARNINGS: dict = {}

GLOSSARY = {
    "Coefficient": "how much the target changes, on average, per extra unit of a feature.",
    "Measurement error": (
        "how uncertain each row's target is on its own (a share out of 10 messages far more "
        "than one out of 1,000); uncertain rows count for less."
    ),
    "Posterior-predictive check": (
        "data simulated from the fitted model, compared with the real data: if they look "
        "alike, the model describes the data's spread and shape."
    ),
    "Prediction interval": (
        "where the expected target of a new row lies, and (wider) where a new measurement "
        "of it would fall."
    ),
}


def _coefficient_sentence(bundle: Bundle, c: dict, units: Units) -> str:
    places = units.places(width(c))
    direction = "raises" if c["mean"] > 0 else "lowers"
    return (
        f"Each extra unit of {c['label']} {direction} the {bundle['target_label']} by about "
        f"{units.value(abs(c['mean']), places)} ({hdi_range(bundle, c['hdi'], units.diff, places)}"
        f"); there is a {prob(c['prob_positive'])} chance that its effect is positive."
    )


def body(bundle: Bundle) -> Body:
    """Sentences, tables and figure text of a ``regression`` bundle."""
    ci = interval(bundle)
    units = Units.of(bundle["spec"])
    coefs = bundle["coefficients"]
    target = bundle["target_label"]
    verdict = bundle["decision"]["verdict"]
    sure = bundle["evidence_threshold"]
    clear = [c for c in coefs if c["prob_positive"] >= sure or c["prob_positive"] <= 1 - sure]
    headline = (
        f"{len(clear)} of {len(coefs)} feature{'s' if len(coefs) > 1 else ''} clearly move "
        f"the {target}."
        if verdict == "fitted"
        else "Verdict withheld: the sampler's checks failed."
    )
    strongest = max(coefs, key=lambda c: abs(c["per_sd"]["mean"]))
    per_sd = strongest["per_sd"]
    reason = (
        f"The strongest is {strongest['label']}: one standard deviation more of it "
        f"({number(strongest['feature_sd'], decimals_for(strongest['feature_sd']))}) "
        f"changes the {target} by "
        f"{estimate(bundle, per_sd, units.diff, units.places(width(per_sd)))}."
    )
    key = [_coefficient_sentence(bundle, c, units) for c in coefs]
    source = bundle["error_source"]
    if source == "count":
        key.append(
            f"Each row's {target} is a share out of its own count, so rows with few events are "
            "weighted less: their binomial standard error is taken at the model's share."
        )
    elif source == "target_error":
        key.append(
            f"Each row's {target} comes with its own known measurement error; noisier rows are "
            "weighted less."
        )
    ppc = bundle["ppc"]
    sd_p = units.places(ppc["replicated_sd"]["hdi"][1] - ppc["replicated_sd"]["hdi"][0])
    inside = ppc["replicated_sd"]["hdi"][0] <= ppc["observed_sd"] <= ppc["replicated_sd"]["hdi"][1]
    check = (
        f"Posterior-predictive check: the observed spread of the {target} "
        f"({units.value(ppc['observed_sd'], sd_p)}) is "
        + ("inside" if inside else "outside")
        + f" the {ci} of the spread in data simulated from the model "
        f"({units.value(ppc['replicated_sd']['hdi'][0], sd_p)} to "
        f"{units.value(ppc['replicated_sd']['hdi'][1], sd_p)})"
        + (
            ", so the model reproduces the data's variability."
            if inside
            else "; the model misdescribes the data's variability, so read its intervals with care."
        )
    )
    sigma = bundle["sigma"]
    sig_p = decimals_for(width(sigma))
    scatter = (
        f"The known errors explain the scatter around the fit with a scale factor of "
        f"{estimate(bundle, sigma, number, sig_p)}; 1 means the stated errors are right, above 1 "
        "that rows vary more than their errors say."
        if source
        else f"The residual standard deviation is {estimate(bundle, sigma, units.value, sig_p)}."
    )
    health = diagnostic_problems(bundle)
    preds = bundle["predictions"]
    pred_rows = []
    for p in preds:
        places = units.places(width(p))
        row = [p["row"], units.value(p["mean"], places), span(p["hdi"], units.value, places)]
        if "observation_hdi" in p:
            row.append(span(p["observation_hdi"], units.value, places))
        pred_rows.append(row)
    pred_head = ["Row", f"Expected {target}", ci]
    if preds and "observation_hdi" in preds[0]:
        pred_head.append(f"A new measurement ({ci})")
    coef_rows = []
    for c in coefs:
        places = units.places(width(c))
        coef_rows.append(
            [
                c["label"],
                units.diff(c["mean"], places),
                span(c["hdi"], units.diff, places),
                prob(c["prob_positive"]),
            ]
        )
    intercept = bundle["intercept"]
    i_places = units.places(intercept["hdi"][1] - intercept["hdi"][0])
    coef_rows.append(
        [
            "(intercept: all features at zero)",
            units.value(intercept["mean"], i_places),
            span(intercept["hdi"], units.value, i_places),
            "—",
        ]
    )
    tables = {
        "coefficients": Table(
            "Coefficients, per unit of each feature",
            ["Feature", "Effect per unit", ci, "Chance > 0"],
            coef_rows,
        ),
        "predictions": Table(
            f"Expected {target} and a new measurement, per row", pred_head, pred_rows[:20]
        ),
    }
    files = {t["key"]: t for t in bundle.get("tables", [])}
    model = [
        f"The {target} is modelled as a straight-line function of the features plus noise "
        + ("scaled by each row's measurement error." if source else "of constant size.")
        + " Features are standardised for fitting; coefficients are reported per unit of "
        "each feature.",
        f"Priors: each coefficient (per standard deviation of its feature) normal around 0 "
        f"with spread {units.value(bundle['prior']['beta_sd'], 3)} (the target's standard "
        "deviation): weak, so the data decide.",
        scatter,
        sampling_line(bundle),
    ]
    if "predictions" in files:
        model.append(
            f"All {files['predictions']['rows']:,} predictions are in "
            f"{files['predictions']['file']} beside this report"
            + (f"; the table shows the first {len(pred_rows[:20])}." if len(preds) > 20 else ".")
        )
    figures = {
        "coefficients": Figure(
            caption=(
                f"Change in {target} per standard deviation of each feature (so features on "
                f"different scales compare): dot is the mean, bar the {ci}."
            ),
            alt=(
                f"Interval chart of {len(coefs)} coefficients with {ci}s: "
                + "; ".join(f"{c['label']} {units.diff(c['per_sd']['mean'], 3)}" for c in coefs)
                + " per standard deviation."
            ),
        ),
        "ppc": Figure(
            caption=(
                f"Posterior-predictive check: the observed distribution of {target} (black) "
                "against data sets simulated from the fitted model (blue)."
            ),
            alt=(
                f"Histogram outlines of the observed {target} and 40 simulated data sets; the "
                "simulated spread "
                + ("covers" if inside else "does not cover")
                + " the observed spread."
            ),
        ),
    }
    return Body(
        headline=headline,
        reason=reason,
        key_sentences=key,
        health=health,
        notes=[],
        sections={"check": [check], "model": model},
        tables=tables,
        figures=figures,
        example="chance that its effect is positive",
    )


def history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units = Units.of(bundle["spec"])
    return "; ".join(
        f"{c['label']} {units.diff(c['mean'], units.places(c['hdi'][1] - c['hdi'][0]))}"
        for c in bundle["coefficients"]
    )
