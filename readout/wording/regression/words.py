"""Words of a ``regression`` readout: how a target moves with features, on observed data.

Effects are quoted per interquartile step of each feature (from its 25th to its 75th
percentile in the data): one step every feature can take, comparable across features. The
data are observational, so the words speak of associations, never of causes.

The words read the typed bundle (:class:`analyses.regression.results.RegressionBundle`):
the worked example of wording that reads typed results.
"""

from __future__ import annotations

from analyses.core import judgement
from analyses.core.results import given
from analyses.regression.results import Coefficient, RegressionBundle
from readout.wording.common import diagnostic_problems, sampling_line
from readout.wording.numbers import (
    Units,
    a_prob,
    article,
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

VERDICT_LABELS = {"fitted": "Associations estimated", "withheld": "Verdict withheld"}
#: A regression's data problems stop the readout (exit 2); it emits no warnings.
WARNINGS: dict = {}

GLOSSARY = {
    "Interquartile step": (
        "a feature's move from its 25th to its 75th percentile in the data: a typical "
        "difference between two rows, used to compare features on different scales."
    ),
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


def _units(bundle: RegressionBundle) -> Units:
    return Units.of(bundle.spec, percent=bundle.likelihood == "count")


def _step(c: Coefficient) -> str:
    places = decimals_for(c.step.size)
    return f"{number(c.step.low, places)} → {number(c.step.high, places)}"


def _effect_sentence(bundle: RegressionBundle, c: Coefficient, units: Units) -> str:
    effect = c.per_step
    places = units.places(width(effect))
    direction = "higher" if effect.mean > 0 else "lower"
    sign = "positive" if effect.mean > 0 else "negative"
    chance = c.prob_positive if effect.mean > 0 else 1 - c.prob_positive
    return (
        f"Rows whose {c.label} is at its 75th rather than its 25th percentile "
        f"({_step(c)}) have {article(bundle.target_label)} {bundle.target_label} "
        f"{direction} by about "
        f"{units.diff(abs(effect.mean), places, signed=False)} "
        f"({hdi_range(bundle, effect.hdi, units.diff, places)})"
        + (
            " (for diagnosis only)."  # a withheld verdict quotes no chance of an association
            if bundle.decision.verdict == "withheld"
            else f"; there is {a_prob(chance)} chance that the association is {sign}."
        )
    )


def body(bundle: RegressionBundle) -> Body:
    """Sentences, tables and figure text of a ``regression`` bundle."""
    ci = interval(bundle)
    units = _units(bundle)
    coefs = bundle.coefficients
    target = bundle.target_label
    verdict = bundle.decision.verdict
    clear = bundle.decision.clear_features
    headline = (
        f"{len(clear)} of {len(coefs)} feature{'s' if len(coefs) > 1 else ''} "
        f"{'are' if len(clear) != 1 else 'is'} clearly associated with the {target}."
        if verdict == "fitted"
        else "Verdict withheld: the sampler's checks failed."
    )
    strongest = max(coefs, key=lambda c: abs(c.per_step.mean))
    effect = strongest.per_step
    reason = (
        f"The strongest association is with {strongest.label}: from its 25th to its 75th "
        f"percentile ({_step(strongest)}) the {target} changes by "
        f"{estimate(bundle, effect, units.diff, units.places(width(effect)))}."
    )
    key = [_effect_sentence(bundle, c, units) for c in coefs]
    likelihood = bundle.likelihood
    if likelihood == "count":
        key.append(
            f"Each row's {target} is a share of events out of its own count, so a share out of "
            "10 counts for far less than one out of 500; the model's shares stay between 0 and "
            "1."
        )
    elif likelihood == "error":
        key.append(
            f"Each row's {target} comes with its own known measurement error; noisier rows are "
            "weighted less."
        )
    notes = [
        "These data were observed, not assigned: an association between a feature and the "
        f"{target} does not show that changing the feature would change the {target}; "
        "something that moves with the feature may be the cause."
    ]
    ppc = bundle.ppc
    sd_p = units.places(width(ppc.replicated_sd))
    inside = judgement.inside(ppc.replicated_sd.hdi, ppc.observed_sd)
    check = (
        f"The observed spread of the {target} "
        f"({units.value(ppc.observed_sd, sd_p)}) is "
        + ("inside" if inside else "outside")
        + f" the {ci} of the spread in data simulated from the model "
        f"({span(ppc.replicated_sd.hdi, units.value, sd_p)})"
        + (
            ", so the model reproduces the data's variability."
            if inside
            else "; the model misdescribes the data's variability, so read its intervals with care."
        )
    )
    sigma = bundle.sigma
    if likelihood == "count":
        scatter = (
            "A binomial count has no separate noise term: the posterior-predictive check (does "
            "the model fit?) shows whether rows vary more than binomial counts would."
        )
    elif likelihood == "error":
        scatter = (
            "The known errors explain the scatter around the fit with a scale factor of "
            f"{estimate(bundle, sigma, number, decimals_for(width(sigma)))}; 1 means the "
            "stated errors are right, above 1 that rows vary more than their errors say."
        )
    else:
        scatter = (
            "The residual standard deviation is "
            f"{estimate(bundle, sigma, units.value, decimals_for(width(sigma)))}."
        )
    preds = bundle.predictions
    pred_rows = []
    # One number of decimals for the whole column: the one a typical row's interval needs.
    widths = sorted(width(p) for p in preds)
    places = units.places(widths[len(widths) // 2]) if widths else 0
    for p in preds:
        row = [p.row, units.value(p.mean, places), span(p.hdi, units.value, places)]
        if given(p.observation_hdi):
            row.append(span(p.observation_hdi, units.value, places))
        pred_rows.append(row)
    pred_head = ["Row", f"Expected {target}", ci]
    if preds and given(preds[0].observation_hdi):
        pred_head.append(f"A new measurement ({ci})")
    coef_rows = []
    withheld = bundle.decision.verdict == "withheld"
    for c in coefs:
        effect = c.per_step
        places = units.places(width(effect))
        coef_rows.append(
            [
                c.label,
                _step(c),
                units.diff(effect.mean, places),
                span(effect.hdi, units.diff, places),
                *([] if withheld else [prob(c.prob_positive)]),
            ]
        )
    tables = {
        "coefficients": Table(
            f"Each feature from its 25th to its 75th percentile: the change in {target}"
            + (" (for diagnosis only)" if withheld else ""),
            ["Feature", "Step (25th → 75th percentile)", "Change", ci]
            + ([] if withheld else ["Chance > 0"]),
            coef_rows,
        ),
        "predictions": Table(
            f"Expected {target} and a new measurement, per row", pred_head, pred_rows[:20]
        ),
    }
    files = {t.key: t for t in bundle.tables} if given(bundle.tables) else {}
    described = {
        "count": (
            "Each row's events are a binomial count out of its total, with a share that is a "
            "straight-line function of the features, kept between 0 and 1."
        ),
        "error": (
            f"The {target} is a straight-line function of the features plus noise scaled by "
            "each row's known measurement error."
        ),
        "plain": (
            f"The {target} is a straight-line function of the features plus noise of constant size."
        ),
    }
    model = [
        described.get(likelihood, described["plain"])
        + " Features are standardised for fitting; effects are reported per interquartile "
        "step of each feature.",
        "Priors, scaled from these data: each coefficient (per standard deviation of its "
        f"feature) normal around 0 with spread {number(bundle.prior.beta_sd, 3)} (the "
        "target's standard deviation), the intercept normal around the target's mean.",
        scatter,
        sampling_line(bundle),
    ]
    where = []
    if "predictions" in files:
        where.append(
            f"All {files['predictions'].rows:,} predictions are in "
            f"{files['predictions'].file} beside this report"
            + (
                f"; the table in the HTML report shows the first {len(pred_rows[:20])}."
                if len(preds) > 20
                else "."
            )
        )
    figures = {
        "coefficients": Figure(
            caption=(
                f"Change in {target} when each feature moves from its 25th to its 75th "
                f"percentile: dot is the estimate, bar the {ci}."
            ),
            alt=(
                f"Interval chart of {len(coefs)} associations with {ci}s: "
                + "; ".join(
                    c.label + " " + units.diff(c.per_step.mean, units.places(width(c.per_step)))
                    for c in coefs
                )
                + " per interquartile step."
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
        health=diagnostic_problems(bundle),
        notes=notes,
        sections={"check": [check], "model": model, "predictions": where},
        tables=tables,
        figures=figures,
        example="chance that an association is positive",
        answers="which features move the target, as associations (not causes)",
    )


def history(bundle: RegressionBundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units = _units(bundle)
    return "; ".join(
        f"{c.label} {units.diff(c.per_step.mean, units.places(width(c.per_step)))} "
        "per interquartile step"
        for c in bundle.coefficients
    )
