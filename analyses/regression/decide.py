"""The regression's verdict: which features clearly move the target (unless a check failed)."""

from __future__ import annotations

from typing import Any

from analyses.core.base import Tone
from analyses.regression.spec import Spec

VERDICTS = {"fitted": Tone.NEUTRAL, "withheld": Tone.WITHHELD}


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """How many features clearly move the target, unless the sampler's checks failed."""
    sure = results["evidence_threshold"]
    clear = [
        c["name"]
        for c in results["coefficients"]
        if c["prob_positive"] >= sure or c["prob_positive"] <= 1 - sure
    ]
    numbers = {"clear_features": clear, "threshold": sure}
    if not diagnostics["ok"]:
        return {"verdict": "withheld", "reason_code": "health_failed", **numbers}
    return {"verdict": "fitted", "reason_code": "coefficients_estimated", **numbers}
