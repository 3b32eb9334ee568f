"""What a row of a page reads as beside the readout's verdict: one rule each, here.

``decide`` gives the verdict; the pages also show the primary metric's own status (the
scorecard) and its verdict under other priors (the sensitivity table). Both are the primary
metric's rule alone, which a guardrail can overrule and a failed health check withholds: read
through these functions, no row contradicts the verdict above it.
"""

from __future__ import annotations

from analyses.ab_test.decide import stopped_by_guardrail
from analyses.ab_test.results import AbDecision


def primary_status(status: str, decision: AbDecision) -> str:
    """The primary metric's status as its scorecard row shows it.

    ``withheld`` when the verdict is; ``better`` where its own rule would ship but a guardrail
    stopped the ship (the guardrail's row says why); otherwise its own status.
    """
    if decision.verdict == "withheld":
        return "withheld"
    if status == "ship" and stopped_by_guardrail(decision):
        return "better"
    return status


def prior_verdict(verdict: str, decision: AbDecision) -> str:
    """The readout's verdict under another prior, from the primary metric's verdict under it.

    ``withheld`` when the verdict is (no prior mends a failed health check); a ship under
    that prior is stopped by the same guardrail (the prior is the primary metric's); any
    other verdict is the primary metric's.
    """
    if decision.verdict == "withheld":
        return "withheld"
    if verdict == "ship" and stopped_by_guardrail(decision):
        return decision.verdict
    return verdict
