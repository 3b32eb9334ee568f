"""The formatting rules the prose and the figures share, so a number reads the same in both.

The wording package (``readout.wording``) builds every sentence on these; the analyses'
figures use them for legends and axis labels. Never 0% or 100%: a posterior probability is
printed as ">99.9%" or "<0.1%" at the ends.
"""

from __future__ import annotations


def prob(p: float) -> str:
    """A probability as a percentage that never claims certainty: never 0% or 100%."""
    if p >= 0.999:
        return ">99.9%"
    if p <= 0.001:
        return "<0.1%"
    if p >= 0.99 or p <= 0.01:
        return f"{100 * p:.1f}%"
    return f"{100 * p:.0f}%"


def ci_label(ci_prob: float, kind: str = "hdi") -> str:
    """The interval's name as quoted everywhere: ``94% HDI``."""
    return f"{round(100 * ci_prob)}% {kind.upper()}"
