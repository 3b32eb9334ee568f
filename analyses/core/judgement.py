"""The classifications every analysis shares: one rule and one threshold each.

A page shows a class (a weak prior, a clear effect), never a comparison of its own: the
wording formats the code these functions return, so the glossary, the model section and
every analysis cut at the same place.
"""

from __future__ import annotations

from typing import Literal

from analyses.core.stats import STRONG_EVIDENCE

__all__ = [
    "LITTLE_PULL",
    "NEW_UNIT_EVIDENCE",
    "PRIOR_CONFLICT",
    "PRIOR_FIT_KS_P",
    "PRIOR_WEAK",
    "SPREAD_CLEAR",
    "STRONG_EVIDENCE",
    "grid_at_edge",
    "conflict_class",
    "inside",
    "prior_class",
    "prior_fit_class",
    "prior_lean",
    "pull_class",
    "spread_class",
]

#: A prior is weak when the posterior is at least ten times narrower than it (its influence,
#: the ratio of the posterior's sd to the prior's, at most 0.1).
PRIOR_WEAK = 0.1
#: A group is a place to roll out only when a new unit in it has at least this chance of a
#: positive effect, besides a clearly positive average: below it, one unit in ten or more
#: there may well lose.
NEW_UNIT_EVIDENCE = 0.9

#: A spread (between units, or between a segment's levels) is clear of zero when the lower
#: end of its interval is at least this share of the upper end: below it, the interval
#: reaches (practically) zero and the levels may well share one value.
SPREAD_CLEAR = 0.1
#: A unit is pulled little toward its group's average when its shrinkage is below this share:
#: its own data give a precise estimate.
LITTLE_PULL = 0.25
#: The learned prior fits a programme when its leave-one-out probability integral transforms
#: are uniform by a KS test at this level, and the estimates held by their intervals are
#: within two binomial standard deviations (at least 2) of the expected count.
PRIOR_FIT_KS_P = 0.05

#: An experiment's own estimate conflicts with the programme's prior when its two-sided tail
#: probability under the prior predictive (the prior plus the estimate's noise) is below
#: this level: the usual level of a prior-data conflict check (Evans and Moshonov 2006).
#: Where the prior fits, one experiment in twenty is flagged by chance; each flag says to
#: read that verdict with care, not that the prior is wrong.
PRIOR_CONFLICT = 0.05

PriorClass = Literal["weak", "noticeable"]
SpreadClass = Literal["clear", "unclear"]
PullClass = Literal["little", "much"]
PriorFit = Literal["fits", "poor"]


def prior_class(influence: float | None) -> PriorClass | None:
    """``weak`` (the data decide) or ``noticeable`` (the prior shapes the result).

    ``influence`` is the posterior's width over the prior's; ``None`` when not measured.
    """
    if influence is None:
        return None
    return "weak" if influence <= PRIOR_WEAK else "noticeable"


def spread_class(hdi: tuple[float, float] | list[float]) -> SpreadClass:
    """``clear`` (the levels really differ) or ``unclear`` (they may well share one value).

    ``hdi`` is the interval of a spread (a standard deviation, at least 0).
    """
    low, high = hdi
    return "clear" if high > 0 and low >= SPREAD_CLEAR * high else "unclear"


def pull_class(shrinkage: float) -> PullClass:
    """``little`` (a unit's own data decide its estimate) or ``much`` (its group's average does)."""
    return "little" if shrinkage < LITTLE_PULL else "much"


def inside(hdi: tuple[float, float] | list[float], value: float) -> bool:
    """Whether ``value`` lies inside the interval ``hdi`` (its ends included)."""
    return hdi[0] <= value <= hdi[1]


def prior_fit_class(ks_p_value: float, held: float, expected: float, ci_prob: float) -> PriorFit:
    """``fits`` or ``poor``: the programme's leave-one-out check of its learned prior.

    ``held``: how many experiments' held-out estimates fell inside their predictive interval;
    ``expected``: how many should (``ci_prob`` of them).
    """
    allowed = max(2.0, 2 * (expected * (1 - ci_prob)) ** 0.5)
    ok = ks_p_value >= PRIOR_FIT_KS_P and abs(held - expected) <= allowed
    return "fits" if ok else "poor"


def prior_lean(above: int, below: int) -> Literal["above", "below"] | None:
    """Where the held-out estimates missed their intervals more often, by more than one."""
    if above > below + 1:
        return "above"
    if below > above + 1:
        return "below"
    return None


def conflict_class(tail_p: float | None) -> Literal["conflict", "consistent"] | None:
    """``conflict`` where an estimate is far outside what the programme's prior expects.

    ``tail_p``: its two-sided tail probability under the prior predictive
    (:func:`analyses.core.programme.predictive_tail`); ``None`` when not measured.
    """
    if tail_p is None:
        return None
    return "conflict" if tail_p < PRIOR_CONFLICT else "consistent"


def grid_at_edge(edge_mass: float | None) -> bool:
    """Whether a grid's posterior mass at its edge cuts the numbers short.

    The pooling grid's own limit, :data:`analyses.core.pooling.EDGE`; ``None``: not a grid.
    """
    from analyses.core.pooling import EDGE

    return edge_mass is not None and edge_mass >= EDGE
