"""The hierarchical analysis's verdict: the average effect's interval, and each group's."""

from __future__ import annotations

from typing import Any

from analyses.core import stats
from analyses.core.base import Tone
from analyses.core.results import plain
from analyses.hierarchical.spec import Spec

VERDICTS = {
    "positive": Tone.GOOD,
    "negative": Tone.BAD,
    "unclear": Tone.NEUTRAL,
    "withheld": Tone.WITHHELD,
}


def group_verdict(summary: dict[str, Any], threshold: float = stats.STRONG_EVIDENCE) -> str:
    """Where to roll out.

    ``positive`` when the group's average is clearly above zero, ``negative`` when clearly below,
    otherwise ``unclear``.
    """
    low, high = summary["hdi"]
    if low > 0 and summary["prob_positive"] >= threshold:
        return "positive"
    if high < 0 and summary["prob_positive"] <= 1 - threshold:
        return "negative"
    return "unclear"


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Positive.

    Negative or unclear from the HDI of the average over the units; each group's own verdict beside
    it. Withheld when the computation's checks failed.
    """
    # Transitional: reads the results as plain dicts until this analysis reads typed ones.
    results, diagnostics = plain(results), plain(diagnostics)
    low, high = results["average"]["hdi"]
    numbers = {
        "average_hdi": [low, high],
        "prob_positive": results["average"]["prob_positive"],
        "groups": {g["group"]: group_verdict(g) for g in results["groups"]}
        if results["grouped"]
        else {},
    }
    if not diagnostics["ok"]:
        return {"verdict": "withheld", "reason_code": "health_failed", **numbers}
    verdict = group_verdict(results["average"])
    code = {
        "positive": "interval_above_zero",
        "negative": "interval_below_zero",
        "unclear": "interval_includes_zero",
    }[verdict]
    return {"verdict": verdict, "reason_code": code, **numbers}
