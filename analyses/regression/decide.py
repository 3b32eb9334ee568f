"""The regression's verdict: which features clearly move the target (unless a check failed)."""

from __future__ import annotations

from analyses.core.base import Tone
from analyses.core.results import Diagnostics
from analyses.regression.results import RegressionDecision, RegressionResults
from analyses.regression.spec import Spec

VERDICTS = {"fitted": Tone.NEUTRAL, "withheld": Tone.WITHHELD}


def decide(spec: Spec, results: RegressionResults, diagnostics: Diagnostics) -> RegressionDecision:
    """How many features clearly move the target, unless the sampler's checks failed."""
    sure = results.evidence_threshold
    clear = tuple(
        c.name
        for c in results.coefficients
        if c.prob_positive >= sure or c.prob_positive <= 1 - sure
    )
    if not diagnostics.ok:
        return RegressionDecision(
            verdict="withheld", reason_code="health_failed", clear_features=clear, threshold=sure
        )
    return RegressionDecision(
        verdict="fitted", reason_code="coefficients_estimated", clear_features=clear, threshold=sure
    )
