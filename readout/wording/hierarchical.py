"""Words of a ``hierarchical`` readout: partial pooling of one effect across many units."""

from __future__ import annotations

from typing import Any

from readout.wording.common import diagnostic_problems, examples, sampling_line
from readout.wording.numbers import (
    Units,
    between,
    estimate,
    hdi_range,
    interval,
    prob,
    relative,
    span,
)
from readout.wording.pieces import Body, Figure, Table

Bundle = dict[str, Any]

VERDICT_LABELS = {
    "positive": "Positive on average",
    "negative": "Negative on average",
    "unclear": "No clear average effect",
    "withheld": "Verdict withheld",
}
WARNINGS = {
    "units_too_few_users": lambda w, b: (
        f"{w['count']:,} {b.get('unit_label', 'unit')}(s) had fewer than {w['minimum']} users "
        f"in an arm ({w['empty_arm']:,} with none at all) and were left out of the model"
        f"{examples(w)}; they are listed here, not silently dropped."
    ),
    "units_no_spread": lambda w, b: (
        f"{w['count']:,} {b.get('unit_label', 'unit')}(s) had identical values within an arm; "
        "their standard errors use that arm's overall spread instead."
    ),
    "bad_std_error": lambda w, b: (
        f"{w['count']:,} row(s) had a missing, zero or negative standard error in column "
        f"'{w['column']}' and were left out{examples(w)}."
    ),
}

GLOSSARY = {
    "Partial pooling": (
        "estimating each unit from its own data and from similar units at once; units with "
        "little data lean on the others."
    ),
    "Shrinkage": (
        "how far a unit's estimate is pulled from its own number toward its group's average "
        "(0% not at all, 100% all the way)."
    ),
    "No pooling / complete pooling": (
        "the two extremes: every unit on its own data only, or every unit equal to its "
        "group's average."
    ),
    "Divergences": (
        "warnings from the sampler that it could not explore part of the posterior; with "
        "pooling models they often mean the spread between units is poorly determined."
    ),
}


def _h_units(bundle: Bundle) -> Units:
    spec = bundle["spec"]
    return Units(prefix=spec.get("value_prefix", ""), suffix=spec.get("value_suffix", ""))


def _h_places(bundle: Bundle) -> int:
    mu = bundle["hyper"]["sigma_unit"]
    return _h_units(bundle).places(max(mu["mean"], mu["hdi"][1] - mu["hdi"][0]))


def _pull_reason(unit: dict, bundle: Bundle, units: Units, places: int) -> str:
    label = bundle["unit_label"]
    big = unit["shrinkage"] < 0.25
    if unit["n"] is not None:
        size = f"{unit['n']:,} users"
        return (
            f"because {size} give a precise estimate of its own"
            if big
            else f"because {size} say little on their own"
        )
    se = units.value(unit["raw_se"], places)
    return (
        f"because its own standard error ({se}) is small next to the spread between {label}s"
        if big
        else f"because its own standard error ({se}) is large next to the spread between {label}s"
    )


def _story(unit: dict, bundle: Bundle) -> str:
    units = _h_units(bundle)
    places = _h_places(bundle)
    label = bundle["unit_label"].capitalize()
    source = (
        f"from {unit['n']:,} users"
        if unit["n"] is not None
        else (f"(standard error {units.value(unit['raw_se'], places)})")
    )
    toward = (
        f"toward the {unit['group']} average" if bundle["grouped"] else "toward the overall average"
    )
    return (
        f"{label} {unit['unit']} saw {units.diff(unit['raw_estimate'], places)} {source}; the "
        f"model's estimate is {estimate(bundle, unit, units.diff, places)}, pulled "
        f"{relative(unit['shrinkage'], 0, False)} of the way {toward} "
        f"{_pull_reason(unit, bundle, units, places)}."
    )


def _h_tables(bundle: Bundle) -> dict[str, Table]:
    ci = interval(bundle)
    units = _h_units(bundle)
    places = _h_places(bundle)
    label, glabel = bundle["unit_label"].capitalize(), bundle["group_label"].capitalize()
    head = [
        label,
        glabel,
        "Users",
        "Own estimate",
        "Pooled estimate",
        ci,
        "Chance > 0",
        "Pulled toward average",
    ]
    role_names = {
        "positive": "Strongest evidence of a positive effect",
        "negative": "Strongest evidence of a negative effect",
        "mover": "Moved most by pooling",
    }
    tables = {}
    for role, title in role_names.items():
        rows = [
            [
                u["unit"],
                u["group"],
                "—" if u["n"] is None else f"{u['n']:,}",
                units.diff(u["raw_estimate"], places),
                units.diff(u["mean"], places),
                span(u["hdi"], units.diff, places),
                prob(u["prob_positive"]),
                relative(u["shrinkage"], 0, False),
            ]
            for u in bundle["units"]
            if role in u["roles"]
        ]
        tables[role] = Table(title, head, rows)
    group_rows = [
        [
            g["group"],
            f"{g['units']:,}",
            units.diff(g["mean"], places),
            span(g["hdi"], units.diff, places),
            units.diff(g["complete_pooling"]["mean"], places),
        ]
        for g in bundle["groups"]
    ]
    tables["groups"] = Table(
        f"{glabel} estimates",
        [glabel, f"{label}s", "Pooled average", ci, "Complete pooling"],
        group_rows,
    )
    return tables


def _spread_sentence(bundle: Bundle, units: Units, places: int) -> str:
    """sigma_unit in words, as sure as its interval allows."""
    label = bundle["unit_label"]
    tau = bundle["hyper"]["sigma_unit"]
    around = f"their {bundle['group_label'] if bundle['grouped'] else 'overall'} average"
    band = f"({hdi_range(bundle, tau['hdi'], units.value, places)})"
    if tau["hdi"][0] >= 0.25 * tau["mean"]:
        return (
            f"{label.capitalize()}s really do differ: by about "
            f"±{units.value(tau['mean'], places)} around {around} {band}."
        )
    return (
        f"{label.capitalize()}s may differ by about ±{units.value(tau['mean'], places)} around "
        f"{around}, but the data cannot rule out that they barely differ at all {band}."
    )


def body(bundle: Bundle) -> Body:
    """Sentences, tables and figure text of a ``hierarchical`` bundle."""
    ci = interval(bundle)
    units = _h_units(bundle)
    places = _h_places(bundle)
    label, glabel = bundle["unit_label"], bundle["group_label"]
    hyper = bundle["hyper"]
    mu = hyper["mu"]
    verdict = bundle["decision"]["verdict"]
    n = bundle["n_units"]
    metric = bundle["spec"].get("metric_label") or "effect"
    headline = {
        "positive": f"The {metric} is positive on average across {n:,} {label}s.",
        "negative": f"The {metric} is negative on average across {n:,} {label}s.",
        "unclear": f"No clear average {metric} across {n:,} {label}s.",
        "withheld": "Verdict withheld: the sampler's checks failed.",
    }[verdict]
    avg = bundle["average"]
    reason = (
        f"The average {metric} over these {n:,} {label}s is "
        f"{estimate(bundle, avg, units.diff, places)}"
        + (
            "; the interval excludes zero."
            if verdict in ("positive", "negative")
            else "; the interval includes zero."
            if verdict == "unclear"
            else ", but these numbers may be unreliable until the sampler's problems are fixed."
        )
    )
    key = [
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the average "
        f"{metric} over these {label}s lies {between(avg['hdi'], units.diff, places)} "
        f"({ci}); there is a {prob(avg['prob_positive'])} "
        "chance that it is positive.",
        _spread_sentence(bundle, units, places),
    ]
    if bundle["grouped"]:
        ordered = sorted(bundle["groups"], key=lambda g: g["mean"])
        low, high = ordered[0], ordered[-1]
        key.append(
            f"{glabel.capitalize()} averages range from {units.diff(low['mean'], places)} "
            f"({low['group']}) to {units.diff(high['mean'], places)} ({high['group']})."
        )
    counts = bundle["counts"]
    key.append(
        f"{counts['positive']:,} of {n:,} {label}s have at least a "
        f"{prob(counts['threshold'])} chance of a positive {metric}, and "
        f"{counts['negative']:,} at least a {prob(counts['threshold'])} chance of a negative "
        "one."
    )
    by_size = bundle.get("shrinkage_by_size") or []
    if len(by_size) >= 2:
        key.append(
            f"{label.capitalize()}s with little data are pulled toward their "
            f"{glabel if bundle['grouped'] else 'overall'} average and those with much data "
            "barely move; the amount of pulling is learned from the data: "
            + ", ".join(
                f"{b['bucket']} users {relative(b['median_shrinkage'], 0, False)}" for b in by_size
            )
            + " (median pull)."
        )
    stories = [
        _story(u, bundle)
        for role in ("story_small", "story_typical", "story_large")
        for u in bundle["units"]
        if role in u["roles"]
    ]
    base = bundle["baselines"]
    baseline_text = [
        f"No pooling trusts each {label}'s own numbers: its {ci[:3]} intervals average "
        f"{units.value(base['no_pooling']['mean_width'], places)} wide. Complete pooling gives "
        f"every {label} its {glabel if bundle['grouped'] else 'overall'} average: intervals "
        f"average {units.value(base['complete_pooling']['mean_width'], places)} wide but ignore "
        f"real differences between {label}s. Partial pooling sits between: "
        f"{units.value(base['partial_pooling']['mean_width'], places)} on average, each "
        f"{label}'s own data weighted by how much of it there is.",
    ]
    health = diagnostic_problems(bundle)
    if bundle["diagnostics"]["divergences"]:
        health.append(
            "Divergences are a known hazard of pooling models: when the spread between "
            f"{label}s is small and poorly determined the posterior forms a narrow funnel the "
            "sampler cannot enter. The estimates near that region (strong pooling) are the "
            "least reliable."
        )
    diag = bundle["diagnostics"]
    prior = bundle["prior"]
    model = [
        f"For a new {label} (outside these {n:,}) the expected {metric} is "
        f"{estimate(bundle, mu, units.diff, places)}: wider than the average over these {label}s, "
        "because it also allows for how much the "
        f"{glabel + 's' if bundle['grouped'] else label + 's'} themselves vary.",
        f"Each {label}'s true {metric} is drawn from a normal distribution around its "
        f"{glabel if bundle['grouped'] else 'overall'} average with spread sigma_unit"
        + (
            f"; {glabel} averages are drawn around an overall average with spread sigma_group"
            if bundle["grouped"]
            else ""
        )
        + f"; each {label}'s own estimate is that true value plus noise of its known standard "
        "error.",
        f"Priors: the overall average is normal around {units.diff(prior['mu_mean'], places)} "
        f"with spread {units.value(prior['mu_sd'], places)}; the spreads are half-normal with "
        f"scale {units.value(prior['sigma_scale'], places)} (the spread of the own estimates): "
        "weak, so the data decide.",
        sampling_line(bundle),
    ]
    files = {t["key"]: t for t in bundle.get("tables", [])}
    if "units" in files:
        model.append(
            f"Every {label}'s numbers ({files['units']['rows']:,} rows) are in "
            f"{files['units']['file']} beside this report."
        )
    shown = bundle["plotted_units"]
    sample_note = f" (a random {shown:,} of {n:,} shown)" if shown < n else ""
    pooled_means = [u["mean"] for u in bundle["units"]]
    strongest = max(bundle["units"], key=lambda u: u["prob_positive"])
    figures = {
        "shrinkage": Figure(
            caption=(
                f"Each {label}'s own estimate (across) against its pooled estimate "
                f"(up){sample_note}; point size shows users, the dashed diagonal is no "
                f"pooling and the coloured lines are the {glabel} averages (complete pooling)."
            ),
            alt=(
                f"Scatter plot of {n:,} {label}s' own against pooled estimates: small {label}s "
                f"lie flat near their {glabel} average, large ones near the diagonal; the "
                f"pooled estimates span {units.diff(min(pooled_means), places)} to "
                f"{units.diff(max(pooled_means), places)} among the "
                f"highlighted {label}s, {strongest['unit']} most surely positive."
            ),
        ),
        "groups": Figure(
            caption=(
                f"Each {glabel}'s average {metric}: dot and bar are the partial-pooling estimate "
                f"and its {ci}; x marks complete pooling."
            ),
            alt=(
                f"Interval chart of {len(bundle['groups'])} {glabel} averages with {ci}s: "
                + "; ".join(
                    f"{g['group']} {units.diff(g['mean'], places)} "
                    f"({span(g['hdi'], units.diff, places)})"
                    for g in bundle["groups"]
                )
                + "."
            ),
        ),
        "diagnostics": Figure(
            caption=(
                "For analysts: rank plot (left) and posterior (right) of each hyperparameter, "
                "one line per chain; flat rank histograms near the dashed line and overlapping "
                "posteriors mean the chains agree."
            ),
            alt=(
                f"Rank-plot and histogram panels of the hyperparameters; largest R-hat "
                f"{diag['r_hat_max']:.3f}, {diag['divergences']} divergences."
            ),
        ),
    }
    return Body(
        headline=headline,
        reason=reason,
        key_sentences=key,
        health=health,
        notes=[],
        sections={"stories": stories, "baselines": baseline_text, "model": model},
        tables=_h_tables(bundle),
        figures=figures,
        example=f"chance that a {label}'s {metric} is positive",
    )


def history(bundle: Bundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units, places = _h_units(bundle), _h_places(bundle)
    return (
        f"average {estimate(bundle, bundle['average'], units.diff, places)} across "
        f"{bundle['n_units']:,} {bundle['unit_label']}s"
    )
