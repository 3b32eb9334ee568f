"""Words of a ``hierarchical`` readout: partial pooling of one effect across many units.

Three different numbers answer three different questions, and the report keeps them apart:
the average over *these* units (the headline), the population average ``mu`` (the mean of all
possible units), and the effect a *new* unit can expect (a prediction, wider because units
differ).

The words read the typed bundle (:class:`analyses.hierarchical.results.HierarchicalBundle`).
"""

from __future__ import annotations

from analyses.core.judgement import (
    NEW_UNIT_EVIDENCE,
    grid_at_edge,
    prior_class,
    pull_class,
    spread_class,
)
from analyses.core.results import LeftOut, given
from analyses.hierarchical.decide import GROUPS_COLOURED, groups_shown
from analyses.hierarchical.results import HierarchicalBundle, Unit
from readout.wording.common import (
    diagnostic_problems,
    examples,
    left_out_check,
    left_out_problem,
    left_out_sentence,
    multiple_arms_check,
    multiple_arms_problem,
    sampling_line,
)
from readout.wording.numbers import (
    Units,
    a_prob,
    article,
    between,
    estimate,
    field,
    hdi_range,
    interval,
    number,
    prob,
    relative,
    span,
)
from readout.wording.pieces import Body, Figure, Table

VERDICT_LABELS = {
    "positive": "Positive on average",
    "negative": "Negative on average",
    "unclear": "No clear average effect",
    "withheld": "Verdict withheld",
}
#: What each group's own verdict means for a rollout.
GROUP_LABELS = {
    "positive": "Roll out here",
    "negative": "Hold back",
    "unclear": "Not yet clear",
    "mixed": "Mixed: varies by unit",
}


def _group_label(bundle: HierarchicalBundle, verdict: str) -> str:
    """A group's verdict cell, "mixed" in the bundle's own word for a unit (review 14)."""
    if verdict == "mixed":  # the rule's bar, analyses.core.judgement.NEW_UNIT_EVIDENCE
        odds = round(1 / (1 - NEW_UNIT_EVIDENCE))
        return (
            f"Mixed: clear on average, but a new {bundle.unit_label} here has a 1 in {odds} "
            "chance or more of going the other way"
        )
    return GROUP_LABELS.get(verdict, "—")


WARNINGS = {
    "units_too_few_users": lambda w, b: (
        f"{w.count:,} {b.unit_label}(s) had fewer than {w.minimum} users "
        f"in an arm ({w.empty_arm:,} with none at all) and were left out of the model"
        f"{examples(w)}; they are listed here, not silently dropped."
    ),
    "units_no_spread": lambda w, b: (
        f"{w.count:,} {b.unit_label}(s) had identical values within an arm; "
        "their standard errors use that arm's overall spread instead."
    ),
    "bad_std_error": lambda w, b: (
        f"{w.count:,} row(s) had a missing, zero or negative standard error in column "
        f"'{w.column}' and were left out{examples(w)}."
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
    "Prediction for a new unit": (
        "where the effect of a unit outside the data is expected to fall: wider than the "
        "average, because it also allows for how much units differ."
    ),
}


def _withheld(bundle: HierarchicalBundle) -> str:
    """The headline of a withheld verdict: which checks failed.

    A readout before version 5 names none: its computation's checks failed.
    """
    failed = field(bundle.decision, "failed_checks") or ("diagnostics",)
    why = []
    if "exposures" in failed:
        why.append("too many users were in more than one arm")
    if "excluded" in failed:
        why.append("too much of the data was left out")
    if "diagnostics" in failed:
        why.append("the computation's checks failed")
    return f"Verdict withheld: {', and '.join(why)}."


def _left_out(bundle: HierarchicalBundle) -> tuple[LeftOut | None, str, dict[str, str]]:
    """From a warehouse: what its query left out, its units' word, its metric's label."""
    excluded = bundle.excluded if given(bundle.excluded) else None
    metrics = {m["name"]: m.get("label") or m["name"] for m in bundle.spec.get("metrics", [])}
    return excluded, "users", metrics


def _units(bundle: HierarchicalBundle) -> Units:
    return Units.of(bundle.spec)


def _places(bundle: HierarchicalBundle) -> int:
    spread = bundle.hyper.sigma_unit
    return _units(bundle).places(max(spread.mean, spread.hdi[1] - spread.hdi[0]))


def _plural(word: str) -> str:
    return word + "s"


def _pull_reason(unit: Unit, bundle: HierarchicalBundle, units: Units, places: int) -> str:
    label = bundle.unit_label
    little = pull_class(unit.shrinkage) == "little"
    if unit.n is not None:
        size = f"{unit.n:,} users"
        return (
            f"because {size} give a precise estimate of its own"
            if little
            else f"because {size} say little on their own"
        )
    se = units.value(unit.raw_se, places)
    return (
        f"because its own standard error ({se}) is small next to the spread between {label}s"
        if little
        else f"because its own standard error ({se}) is large next to the spread between {label}s"
    )


def _story(unit: Unit, bundle: HierarchicalBundle) -> str:
    units, places = _units(bundle), _places(bundle)
    label = bundle.unit_label.capitalize()
    source = (
        f"from {unit.n:,} users"
        if unit.n is not None
        else f"(standard error {units.value(unit.raw_se, places)})"
    )
    toward = f"toward the {unit.group} average" if bundle.grouped else "toward the overall average"
    return (
        f"{label} {unit.unit} saw {units.diff(unit.raw_estimate, places)} {source}; the "
        f"model's estimate is {estimate(bundle, unit, units.diff, places)}, pulled "
        f"{relative(unit.shrinkage, 0, False)} of the way {toward} "
        f"{_pull_reason(unit, bundle, units, places)}."
    )


def _shown_groups_note(bundle: HierarchicalBundle) -> str:
    """Which groups a page shows, when not all: "the 20 of 1,000 genres with the most ..."."""
    shown, total = len(groups_shown(bundle.groups)), len(bundle.groups)
    if shown == total:
        return ""
    files = {t.key: t.file for t in field(bundle, "tables") or ()}
    where = f"in {files['groups']}" if "groups" in files else "in the bundle"
    return (
        f"the {shown} of {total:,} {bundle.group_label}s with the most "
        f"{_plural(bundle.unit_label)}; every {bundle.group_label} is {where}"
    )


def _tables(bundle: HierarchicalBundle) -> dict[str, Table]:
    ci = interval(bundle)
    units, places = _units(bundle), _places(bundle)
    label, glabel = bundle.unit_label.capitalize(), bundle.group_label.capitalize()
    # Columns that say nothing here are left out: one group, or no user counts.
    withheld = bundle.decision.verdict == "withheld"
    shown = {
        glabel: bundle.grouped,
        "Users": any(u.n is not None for u in bundle.units),
        "Chance > 0": not withheld,  # a withheld verdict quotes no chance of an effect
    }
    head = [label, glabel, "Users", "Own estimate", "Pooled estimate", ci, "Chance > 0", "Pulled"]
    keep = [shown.get(h, True) for h in head]
    titles = {
        "positive": ("Strongest evidence of a positive effect", "positive"),
        "negative": ("Strongest evidence of a negative effect", "negative"),
        "mover": ("Moved most by pooling", ""),
    }
    tables = {}
    for role, (title, sign) in titles.items():
        chosen = [u for u in bundle.units if role in u.roles and not (withheld and sign)]
        if role == "positive":
            chosen.sort(key=lambda u: -u.prob_positive)
        elif role == "negative":
            chosen.sort(key=lambda u: u.prob_positive)
        else:
            chosen.sort(key=lambda u: -abs(u.raw_estimate - u.mean))
        rows = [
            [
                u.unit,
                u.group,
                "—" if u.n is None else f"{u.n:,}",
                units.diff(u.raw_estimate, places),
                units.diff(u.mean, places),
                span(u.hdi, units.diff, places),
                prob(u.prob_positive),
                relative(u.shrinkage, 0, False),
            ]
            for u in chosen
        ]
        empty = (
            f"Withheld with the verdict: which {bundle.unit_label}s show a {sign} effect is "
            "not said until the checks pass."
            if sign and withheld
            else f"No {bundle.unit_label} has a better-than-even chance of a {sign} effect."
            if sign
            else ""
        )
        tables[role] = Table(
            title + (" (for diagnosis only)" if withheld and not sign else ""),
            [h for h, k in zip(head, keep, strict=True) if k],
            [[c for c, k in zip(row, keep, strict=True) if k] for row in rows],
            empty,
        )
    verdicts = bundle.decision.groups
    group_head = [
        glabel,
        f"{label}s",
        f"Pooled average ({ci})",
        "Chance > 0",
        f"A new {bundle.unit_label} here ({ci})",
        "Complete pooling",
        "Verdict",
    ]
    group_keep = [withheld is False or h not in ("Chance > 0", "Verdict") for h in group_head]
    group_rows = [
        [
            g.group,
            f"{g.units:,}",
            f"{units.diff(g.mean, places)} ({span(g.hdi, units.diff, places)})",
            prob(g.prob_positive),
            span(g.new_unit.hdi, units.diff, places),
            units.diff(g.complete_pooling.mean, places),
            _group_label(bundle, verdicts.get(g.group, "")),
        ]
        for g in groups_shown(bundle.groups)
    ]
    note = _shown_groups_note(bundle)
    tables["groups"] = Table(
        (
            f"Each {bundle.group_label}: the estimates (for diagnosis only)"
            if withheld
            else f"Each {bundle.group_label}: where to roll out"
        )
        + (f" ({note})" if note else ""),
        [h for h, k in zip(group_head, group_keep, strict=True) if k],
        [[c for c, k in zip(row, group_keep, strict=True) if k] for row in group_rows],
    )
    return tables


def _spread_sentence(bundle: HierarchicalBundle, units: Units, places: int) -> str:
    """The spread between units in words, as sure as its interval allows."""
    label = bundle.unit_label
    tau = bundle.hyper.sigma_unit
    around = f"their {bundle.group_label if bundle.grouped else 'overall'} average"
    band = f"({hdi_range(bundle, tau.hdi, units.value, places)})"
    if spread_class(tau.hdi) == "clear":
        return (
            f"{label.capitalize()}s really do differ: by about "
            f"±{units.value(tau.mean, places)} around {around} {band}."
        )
    return (
        f"{label.capitalize()}s may differ by about ±{units.value(tau.mean, places)} around "
        f"{around}, but the data cannot rule out that they barely differ at all {band}."
    )


#: Groups of one verdict named in the key points; more are counted, the largest named.
NAMED_GROUPS = 5


def _group_summary(bundle: HierarchicalBundle) -> str:
    verdicts = bundle.decision.groups
    glabel = bundle.group_label
    files = {t.key: t.file for t in field(bundle, "tables") or ()}

    def names(verdict: str) -> str:
        found = [g for g, v in verdicts.items() if v == verdict]
        if not found:
            return "none"
        if len(found) > NAMED_GROUPS:  # counted, the largest named (the CSV has them all)
            size = {g.group: g.units or 0 for g in bundle.groups}
            largest = sorted(found, key=lambda g: (-size.get(g, 0), g))[:NAMED_GROUPS]
            return (
                f"{len(found):,} {glabel}s (the largest: {', '.join(sorted(largest))} and "
                f"{len(found) - NAMED_GROUPS:,} more)"
            )
        return ", ".join(found[:-1]) + (" and " if len(found) > 1 else "") + found[-1]

    threshold = prob(bundle.counts.threshold)
    return (
        f"By {glabel}, with at least {threshold} probability: clearly positive in "
        f"{names('positive')}; clearly negative in {names('negative')}; not yet clear in "
        f"{names('unclear')}"
        + (
            f"; clear on average but not for every {bundle.unit_label} in {names('mixed')}"
            if "mixed" in verdicts.values()
            else ""
        )
        + (
            f" (every {glabel}'s numbers are in {files['groups']})"
            if "groups" in files and len(groups_shown(bundle.groups)) < len(bundle.groups)
            else f" (the table of each {glabel} has the numbers)"
        )
        + "."
    )


def body(bundle: HierarchicalBundle) -> Body:
    """Sentences, tables and figure text of a ``hierarchical`` bundle."""
    ci = interval(bundle)
    units, places = _units(bundle), _places(bundle)
    label, glabel = bundle.unit_label, bundle.group_label
    mu = bundle.hyper.mu
    verdict = bundle.decision.verdict
    n = bundle.n_units
    metric = bundle.spec.get("metric_label") or "effect"
    headline = {
        "positive": f"The {metric} is positive on average across {n:,} {label}s.",
        "negative": f"The {metric} is negative on average across {n:,} {label}s.",
        "unclear": f"No clear average {metric} across {n:,} {label}s.",
        "withheld": _withheld(bundle),
    }[verdict]
    avg = bundle.average
    reason = (
        f"The average {metric} over these {n:,} {label}s is "
        f"{estimate(bundle, avg, units.diff, places)}"
        + {
            "positive": "; the interval lies above zero.",
            "negative": "; the interval lies below zero.",
            "unclear": "; the interval includes zero.",
            "withheld": ", but these numbers may be unreliable until the problems below are fixed.",
        }[verdict]
    )
    if field(bundle.decision, "population_clear") is False:  # these units only
        side = {"positive": "above", "negative": "below"}[verdict]
        reason = (
            f"The average {metric} over these {n:,} {label}s is "
            f"{estimate(bundle, avg, units.diff, places)}: {side} zero for these {label}s, "
            f"not clearly for {label}s in general (their average: "
            f"{hdi_range(bundle, mu.hdi, units.diff, places)})."
        )
    new = bundle.new_unit
    withheld = verdict == "withheld"  # the estimates for diagnosis; no chance of an effect
    key = [
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the average "
        f"{metric} over these {label}s lies {between(avg.hdi, units.diff, places)} "
        f"({ci})"
        + (
            "."
            if withheld
            else f"; there is {a_prob(avg.prob_positive)} chance that it is positive."
        ),
        f"A new {label} (outside these {n:,}) can expect {article(metric)} {metric} "
        f"{between(new.hdi, units.diff, places)} ({ci} of the prediction"
        + ("" if withheld else f"; {prob(new.prob_positive)} chance it is positive")
        + f"): far wider than the average, because {label}s differ.",
        _spread_sentence(bundle, units, places),
    ]
    if bundle.grouped and not withheld:
        key.append(_group_summary(bundle))
    counts = bundle.counts
    if not withheld:
        key.append(
            f"{counts.positive:,} of {n:,} {label}s have at least "
            f"{a_prob(counts.threshold)} chance of a positive {metric}, and "
            f"{counts.negative:,} at least {a_prob(counts.threshold)} chance of a negative "
            "one."
        )
    by_size = field(bundle, "shrinkage_by_size") or ()
    if len(by_size) >= 2:
        key.append(
            f"{label.capitalize()}s with little data are pulled toward their "
            f"{glabel if bundle.grouped else 'overall'} average and those with much data "
            "barely move; the amount of pulling is learned from the data: "
            + ", ".join(
                f"{b.bucket} users {relative(b.median_shrinkage, 0, False)}" for b in by_size
            )
            + " (median pull)."
        )
    stories = [
        _story(u, bundle)
        for role in ("story_small", "story_typical", "story_large")
        for u in bundle.units
        if role in u.roles
    ]
    base = bundle.baselines
    baseline_text = [
        f"No pooling trusts each {label}'s own numbers: its {ci[:3]} intervals average "
        f"{units.value(base.no_pooling.mean_width, places)} wide. Complete pooling gives "
        f"every {label} its {glabel if bundle.grouped else 'overall'} average: intervals "
        f"average {units.value(base.complete_pooling.mean_width, places)} wide but ignore "
        f"real differences between {label}s. Partial pooling sits between: "
        f"{units.value(base.partial_pooling.mean_width, places)} on average, each "
        f"{label}'s own data weighted by how much of it there is.",
    ]
    health = diagnostic_problems(bundle)
    excluded, users, metrics = _left_out(bundle)
    if excluded and not excluded.ok:
        health.insert(0, left_out_problem(excluded, users, metrics))
    exposures = field(bundle, "exposures")
    if exposures and not exposures.ok:
        health.insert(0, multiple_arms_problem(exposures, users))
    # A failed check says it in the health alert; a passed one, in a note.
    note = left_out_sentence(excluded, users, metrics) if excluded and excluded.ok else None
    if bundle.diagnostics.divergences:
        health.append(
            "Divergences are a known hazard of pooling models: when the spread between "
            f"{label}s is small and poorly determined the posterior forms a narrow funnel the "
            "sampler cannot enter. The estimates near that region (strong pooling) are the "
            "least reliable."
        )
    if grid_at_edge(field(bundle.diagnostics, "edge_mass")):
        health.append(
            "The grid that integrates the spreads holds posterior mass at its edge: the "
            "numbers may be cut short. Report this as a bug."
        )
    model = _model(bundle, units, places, label, glabel, metric, mu)
    files = {t.key: t for t in field(bundle, "tables") or ()}
    if "units" in files:
        model.append(
            f"Every {label}'s numbers ({files['units'].rows:,} rows) are in "
            f"{files['units'].file} beside this report."
        )
    return Body(
        headline=headline,
        reason=reason,
        key_sentences=key,
        health=health,
        notes=[note] if note else [],
        sections={"stories": stories, "baselines": baseline_text, "model": model},
        tables=_tables(bundle),
        figures=_figures(bundle, units, places),
        example=f"chance that {article(label)} {label}'s {metric} is positive",
        answers=f"whether the {metric} is positive on average and where it differs",
    )


def _model(bundle, units, places, label, glabel, metric, mu) -> list[str]:
    prior = bundle.prior
    n = bundle.n_units
    influence = field(bundle, "prior_influence")
    weak = (
        "weak here (the data narrow every hyperparameter at least "
        f"{number(1 / influence, 0)}-fold), so the data decide"
        if prior_class(influence) == "weak"
        else "noticeable here (the data narrow a hyperparameter only "
        f"{number(1 / influence, 1)}-fold), so they shape the result"
        if influence is not None
        else "weak"
    )
    return [
        f"The population average — the mean {metric} of all possible {label}s, of which these "
        f"{n:,} are a sample — is {estimate(bundle, mu, units.diff, places)}. It is not the "
        f"average over these {label}s (the headline) nor the prediction for a new {label}.",
        f"Each {label}'s true {metric} is drawn from a normal distribution around its "
        f"{glabel if bundle.grouped else 'overall'} average with a spread learned from the "
        "data"
        + (
            f"; {glabel} averages are drawn around an overall average with a spread of their own"
            if bundle.grouped
            else ""
        )
        + f"; each {label}'s own estimate is that true value plus noise of its known standard "
        "error.",
        f"Priors, scaled from these data: the overall average is normal around "
        f"{units.diff(prior.mu_mean, places)} (the median estimate) with spread "
        f"{units.value(prior.mu_sd, places)} (twice the estimates' spread); the spreads are "
        f"half-normal with scale {units.value(prior.sigma_scale, places)} (the estimates' "
        f"spread). The prior is {weak}.",
        *([multiple_arms_check(bundle.exposures, "users")] if given(bundle.exposures) else []),
        *([left_out_check(*_left_out(bundle))] if given(bundle.excluded) else []),
        sampling_line(bundle),
    ]


def _figures(bundle: HierarchicalBundle, units: Units, places: int) -> dict[str, Figure]:
    ci = interval(bundle)
    label, glabel = bundle.unit_label, bundle.group_label
    n = bundle.n_units
    metric = bundle.spec.get("metric_label") or "effect"
    shown = bundle.plotted_units
    sample_note = (
        f" (a random {shown:,} of {n:,} shown, the highlighted ones always)" if shown < n else ""
    )
    stories = [u for u in bundle.units if any(r.startswith("story") for r in u.roles)]
    strongest = max(bundle.units, key=lambda u: u.prob_positive)
    diag = bundle.diagnostics
    exact = given(diag.grid_points)
    with_users = any(u.n is not None for u in bundle.units)
    size = "users" if with_users else "precision (one over the squared standard error)"
    shown_groups, note = groups_shown(bundle.groups), _shown_groups_note(bundle)
    coloured, total = len(groups_shown(bundle.groups, GROUPS_COLOURED)), len(bundle.groups)
    lines = (
        f"the coloured lines are the {glabel} averages"
        + (
            f" of the {coloured} {glabel}s with the most {_plural(label)} (the other "
            f"{total - coloured:,} {glabel}s' {_plural(label)} in grey)"
            if coloured < total
            else ""
        )
        if bundle.grouped
        else "the horizontal line is the overall average"
    )
    return {
        "shrinkage": Figure(
            caption=(
                f"Each {label}'s own estimate (across) against its pooled estimate "
                f"(up){sample_note}; point size shows {size}, the dashed diagonal is no "
                f"pooling and {lines}. Named where names do not crowd each other: the "
                f"{label}s told as stories below (circled) and those pooling moved most "
                f"(squared)."
            ),
            alt=(
                f"Scatter plot of {n:,} {label}s' own against pooled estimates: small {label}s "
                f"lie flat near their {glabel} average, large ones near the diagonal; "
                + "; ".join(
                    f"{u.unit} moves from {units.diff(u.raw_estimate, places)} to "
                    f"{units.diff(u.mean, places)}"
                    for u in stories
                )
                + f"; {strongest.unit} is most surely positive."
            ),
        ),
        "groups": Figure(
            caption=(
                f"Each {glabel}'s average {metric}"
                + (f" ({note})" if note else "")
                + f": dot and bar are the partial-pooling estimate and its {ci}; x marks "
                "complete pooling."
            ),
            alt=(
                f"Interval chart of {len(shown_groups)} {glabel} "
                + ("average" if len(shown_groups) == 1 else "averages")
                + f" with {ci}s: "
                + "; ".join(
                    f"{g.group} {units.diff(g.mean, places)} ({span(g.hdi, units.diff, places)})"
                    for g in shown_groups
                )
                + "."
            ),
        ),
        "diagnostics": Figure(
            caption=(
                (
                    f"For analysts: the posterior of the spread between {label}s"
                    + (f" and between {glabel}s" if bundle.grouped else "")
                    + ", computed exactly on a grid (no sampler, so no chains to compare)."
                )
                if exact
                else (
                    "For analysts: rank plot (left) and posterior (right) of each "
                    "hyperparameter, one line per chain; flat rank histograms near the dashed "
                    "line and overlapping posteriors mean the chains agree."
                )
            ),
            alt=(
                f"Density curves of the spreads; the spread between {label}s is about "
                f"{units.value(bundle.hyper.sigma_unit.mean, places)}."
                if exact
                else f"Rank-plot and histogram panels of the hyperparameters; largest R-hat "
                f"{diag.r_hat_max:.3f}, {diag.divergences} divergences."
            ),
        ),
    }


def history(bundle: HierarchicalBundle) -> str:
    """One line of key numbers for the experiment's history table."""
    units, places = _units(bundle), _places(bundle)
    return (
        f"average {estimate(bundle, bundle.average, units.diff, places)} across "
        f"{bundle.n_units:,} {_plural(bundle.unit_label)}"
    )
