"""The hierarchical analysis's verdict: the average effect's interval, and each group's."""

from __future__ import annotations

from collections.abc import Sequence

from analyses.core import stats
from analyses.core.base import Tone
from analyses.core.judgement import NEW_UNIT_EVIDENCE
from analyses.core.results import MISSING, Signed
from analyses.hierarchical.results import (
    GridDiagnostics,
    Group,
    GroupVerdict,
    HierarchicalDecision,
    HierarchicalResults,
)
from analyses.hierarchical.spec import Spec

VERDICTS = {
    "positive": Tone.GOOD,
    "negative": Tone.BAD,
    "unclear": Tone.NEUTRAL,
    "withheld": Tone.WITHHELD,
}


def group_verdict(summary: Signed, threshold: float = stats.STRONG_EVIDENCE) -> GroupVerdict:
    """Where to roll out.

    ``positive`` when the group's average is clearly above zero, ``negative`` when clearly below,
    otherwise ``unclear``.
    """
    low, high = summary.hdi
    if low > 0 and summary.prob_positive >= threshold:
        return "positive"
    if high < 0 and summary.prob_positive <= 1 - threshold:
        return "negative"
    return "unclear"


def group_where(group: Group, evidence: float = NEW_UNIT_EVIDENCE) -> GroupVerdict:
    """Where to roll out: a group's average, and the units in it.

    The group's :func:`group_verdict`, except that a clear average is ``mixed`` when a new
    unit in the group has less than ``evidence`` chance of an effect of the same sign (a
    positive average while one unit in ten or more there may well lose).
    """
    verdict = group_verdict(group)
    chance = group.new_unit.prob_positive
    if (verdict == "positive" and chance < evidence) or (
        verdict == "negative" and chance > 1 - evidence
    ):
        return "mixed"
    return verdict


#: The most groups a page lists and charts one by one; with more, the largest (every group is
#: in the groups' CSV beside the report).
GROUPS_SHOWN = 20
#: The most groups a chart colours, as many as its palette tells apart; with more, the largest
#: (the same rule as :func:`groups_shown`), the others in grey.
GROUPS_COLOURED = 6


def groups_shown(groups: Sequence[Group], limit: int = GROUPS_SHOWN) -> list[Group]:
    """The groups a page lists and charts: all of them, or the ``limit`` with the most units.

    A page of a thousand groups is read by no one: the groups that touch the most units come
    first in any rollout, so they are the ones shown (ties by name); the verdict counts and
    the CSV cover every group. Shown in their usual order (by name).
    """
    if len(groups) <= limit:
        return list(groups)
    ranked = sorted(groups, key=lambda g: (-(g.units or 0), g.group))[:limit]
    chosen = {g.group for g in ranked}
    return [g for g in groups if g.group in chosen]


def population_clear(results: HierarchicalResults, verdict: str) -> bool:
    """Whether the population average is clear on the same side as the verdict.

    The verdict reads the average over *these* units; the population average (units in
    general, of which these are a sample) is wider. When its interval reaches zero, a clear
    verdict holds for these units only, and the page says so.
    """
    low, high = results.hyper.mu.hdi
    return (verdict == "positive" and low > 0) or (verdict == "negative" and high < 0)


def failed_checks(results: HierarchicalResults, diagnostics: GridDiagnostics) -> list[str]:
    """The health checks that failed: users in several arms or left out, the computation.

    Users in more than one arm and units left out by a warehouse query, and the
    computation's checks: any withholds the verdict.
    """
    excluded, exposures = results.excluded, results.exposures
    return [
        check
        for check, ok in (
            ("exposures", exposures is MISSING or exposures.ok),
            ("excluded", excluded is MISSING or excluded.ok),
            ("diagnostics", diagnostics.ok),
        )
        if not ok
    ]


def decide(
    spec: Spec, results: HierarchicalResults, diagnostics: GridDiagnostics
) -> HierarchicalDecision:
    """Positive, negative or unclear from the HDI of the average over the units.

    Each group's own verdict beside it. Withheld when a health check failed
    (:func:`failed_checks`, named in the decision).
    """
    numbers = {
        "average_hdi": results.average.hdi,
        "prob_positive": results.average.prob_positive,
        "groups": {g.group: group_where(g) for g in results.groups} if results.grouped else {},
    }
    failed = failed_checks(results, diagnostics)
    if failed:
        return HierarchicalDecision(
            verdict="withheld", reason_code="health_failed", failed_checks=failed, **numbers
        )
    verdict = group_verdict(results.average)
    code = {
        "positive": "interval_above_zero",
        "negative": "interval_below_zero",
        "unclear": "interval_includes_zero",
    }[verdict]
    if verdict in ("positive", "negative"):
        numbers["population_clear"] = population_clear(results, verdict)
    return HierarchicalDecision(verdict=verdict, reason_code=code, **numbers)
