"""Words of a plan (``readout plan NAME``): how many days an A/B test needs, in plain language.

Reads only the plan's typed numbers (:class:`analyses.ab_test.plan_results.Plan`, what
:func:`readout.plan.make_plan` writes to ``plan.json``) and computes no statistics; the page
(``templates/plan.html.j2``) and the terminal summary share them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analyses.ab_test.plan_results import Plan, Target
from readout.wording.numbers import Units, a_prob, capital, field, number, prob, relative
from readout.wording.pieces import Table

#: What each rule is called on the page.
RULE_NAMES = {
    "sequential": "read every day (as readout does)",
    "fixed": "read once, at the planned end",
}


@dataclass(frozen=True)
class PlanText:
    """The sentences and the table of a plan page."""

    title: str
    headline: str
    reason: str
    key_sentences: list[str]
    table: Table
    assumptions: list[str]
    provenance: list[tuple[str, str]]


def about(x: float) -> str:
    """A count rounded to two significant figures: ``about 140,000``."""
    if x <= 0:
        return "0"
    places = -(int(math.floor(math.log10(x))) - 1)
    return number(x, min(places, 0))


def threshold(p: float) -> str:
    """A decision threshold as configured: ``97%``, ``97.5%`` (not a rounded estimate)."""
    return f"{100 * p:.2f}".rstrip("0").rstrip(".") + "%"


def _units(plan: Plan) -> Units:
    metric = plan.metric
    return Units(metric.prefix, metric.suffix, plan.baseline.kind == "binary")


def baseline_value(plan: Plan, x: float | None = None) -> str:
    """The metric's level as written in the report: ``8.1%``, ``$41.30``, ``904 ms``."""
    b = plan.baseline
    x = b.mean if x is None else x
    units = _units(plan)
    spread = b.sd / math.sqrt(max(b.units, 1))
    return units.value(x, max(units.places(4 * spread), 1 if units.percent else 0))


def effect_phrase(plan: Plan) -> str:
    """The minimum effect in words: ``a 2% rise in purchase rate (8.1% to 8.3%)``."""
    b, metric, effect = plan.baseline, plan.metric, plan.min_effect
    better = metric.higher_is_better
    target = b.mean * (1 + (effect if better else -effect))
    word = "rise" if better else "fall"
    size = relative(effect, 1 if effect * 100 % 1 else 0, signed=False)
    return (
        f"a {size} {word} in {metric.label} "
        f"({baseline_value(plan)} to {baseline_value(plan, target)})"
    )


def _days(target: Target, plan: Plan) -> str:
    if target.days is None:
        return f"more than {plan.max_days} days"
    unit = plan.unit_label
    return f"{target.days} days (about {about(target.units_exposed)} {unit}s exposed)"


def headline(plan: Plan) -> str:
    """The advice in one line."""
    chance = a_prob(plan.rules.sequential.targets[0].target)
    if plan.planned_days is None:
        return (
            f"More than {plan.max_days} days for {chance} chance of a clear answer at "
            f"{effect_phrase(plan)}"
        )
    return (
        f"Plan {plan.planned_days} days: {chance} chance of a clear answer if the change "
        f"brings {effect_phrase(plan)}"
    )


def text(plan: Plan) -> PlanText:
    """Everything the plan page says."""
    metric, b, h = plan.metric, plan.baseline, plan.history
    unit = plan.unit_label
    rules = {"sequential": plan.rules.sequential, "fixed": plan.rules.fixed}
    seq, fixed = rules["sequential"].targets, rules["fixed"].targets
    thresholds = plan.decision
    window = metric.window_days
    end_threshold = field(rules["sequential"], "end_threshold")
    lines = [
        "Read every day, as readout reads a running experiment, the experiment needs "
        + " and ".join(f"{_days(t, plan)} for {a_prob(t.target)} chance" for t in seq)
        + f" of a clear answer, if the true effect is {effect_phrase(plan)}.",
        "Read once at the planned end instead (the fixed rule), it would need "
        + " and ".join(
            f"{t.days} days" if t.days is not None else f"more than {plan.max_days}" for t in fixed
        )
        + (
            ". Reading every day keeps the chance of shipping a change that does nothing at "
            "the fixed rule's: each look before the end needs more evidence, and the end "
            f"{threshold(end_threshold)} rather than "
            f"{threshold(thresholds.min_prob_better)}."
            if end_threshold is not None
            else "."
        ),
        f"A clear answer is a ship by the planned end: the readout's own rule, a "
        f"{threshold(thresholds.min_prob_better)} chance (or the daily rule's higher bar before "
        f"the end) that the change is better, its {round(100 * plan.ci_prob)}% HDI of "
        f"the lift above zero and an expected loss of at most "
        f"{relative(thresholds.max_expected_loss, 1, signed=False)}.",
    ]
    if plan.planned_days is not None:
        lines.append(
            f"To plan it, set planned_days = {plan.planned_days} in the experiment's entry "
            "of the config; the daily readouts then use the sequential rule until that day."
        )
    reason = (
        f"Based on {about(h.units_measured)} {unit}s of the last {h.days} days "
        f"({metric.label} {baseline_value(plan)}) and about {about(b.units_per_day)} "
        f"{unit}s a day."
    )
    head = ["Planned length", f"{capital(unit)}s exposed"] + [
        f"Chance, {RULE_NAMES[r]}" for r in ("sequential", "fixed")
    ]
    curve = {r: {p.days: p.prob for p in rule.curve} for r, rule in rules.items()}
    rows = [
        [f"{d} days", about(b.units_per_day * d)]
        + [prob(curve[r][d]) for r in ("sequential", "fixed")]
        for d in sorted(curve["sequential"])
    ]
    table = Table(
        title=f"The chance of a clear answer by planned length, at {effect_phrase(plan)}",
        head=head,
        rows=rows,
    )
    source = {
        "control": "the control arm's",
        "all": "all the assignments query's",
    }[h.baseline_from]
    mc = max(t.mc_se for rule in rules.values() for t in rule.targets)
    assumptions = [
        f"The baseline is {source} {unit}s first exposed from {h.start} up to "
        f"{h.end} UTC whose {window:g}-day window had closed: "
        f"{metric.label} {baseline_value(plan)}"
        + (
            f", spread {_units(plan).value(b.sd, 2 if b.sd < 10 else 0)} per {unit}"
            if b.kind == "mean"
            else ""
        )
        + f", from {about(b.units)} {unit}s.",
        f"Traffic: {about(h.units)} {unit}s first exposed over {h.exposure_days:.1f} days, "
        f"about {about(b.units_per_day)} a day, split evenly between "
        f"{b.arms} arms"
        + (
            " (the plan compares one treatment with the control; "
            + (
                "the third arm takes its share of the traffic)."
                if b.arms == 3
                else f"the other {b.arms - 2} arms take their share of the traffic)."
            )
            if b.arms > 2
            else "."
        ),
        f"A {unit} counts once {window:g} days have passed since exposure, so the "
        f"first {math.ceil(window)} days count nobody and the last {math.ceil(window)} days' "
        f"{unit}s are not counted by the planned end.",
        f"Each chance is the share of {plan.simulations:,} simulated experiments that "
        f"ship (to within about ±{100 * mc:.1f} points); the true effect is exactly "
        f"{effect_phrase(plan)} ("
        + {
            "option": "given with --min-effect",
            "rope": "the experiment's rope",
            "default": "the default; set it with --min-effect",
        }[plan.min_effect_from]
        + ").",
        "Only the primary metric is planned for: a guardrail that shows harm can still hold a "
        "ship back."
        + (
            ""
            if b.kind == "binary"
            else " Its mean is planned with a normal approximation; the readout's own model "
            "(for revenue, with its zeros) can be a little more or less precise."
        ),
    ]
    if metric.covariate_days:
        assumptions.append(
            f"The readout adjusts {metric.label} for its {metric.covariate_days:g} days "
            "before exposure (CUPED); the plan does not, so the experiment may need fewer "
            "days than planned."
        )
    provenance = [
        ("Experiment", f"{plan.title} ({plan.experiment})"),
        ("Metric", f"{metric.label} ({metric.name}, {metric.kind})"),
        ("Data", plan.source),
        ("Seed", str(plan.seed)),
        ("Made", plan.created_at),
    ]
    return PlanText(
        title=f"Plan: {plan.title}",
        headline=headline(plan),
        reason=reason,
        key_sentences=lines,
        table=table,
        assumptions=assumptions,
        provenance=provenance,
    )


def summary(plan: Plan) -> list[str]:
    """The few lines printed on the terminal."""
    words = text(plan)
    return [f"{plan.experiment}: {words.headline}.", words.reason, words.key_sentences[0]]
