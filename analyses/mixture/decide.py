"""The mixture's verdict: the component count chosen (unless a check failed)."""

from __future__ import annotations

from analyses.core.base import Tone
from analyses.core.results import Diagnostics
from analyses.mixture.results import MixtureDecision, MixtureResults
from analyses.mixture.spec import Spec

VERDICTS = {"mixture": Tone.NEUTRAL, "withheld": Tone.WITHHELD}


def decide(spec: Spec, results: MixtureResults, diagnostics: Diagnostics) -> MixtureDecision:
    """The fitted mixture is reported, unless the sampler's checks failed."""
    numbers = {"components": results.chosen_components, "largest_tried": max(spec.counts)}
    if not diagnostics.ok:
        return MixtureDecision(verdict="withheld", reason_code="health_failed", **numbers)
    return MixtureDecision(verdict="mixture", reason_code="components_chosen", **numbers)
