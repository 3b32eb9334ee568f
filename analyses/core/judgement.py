"""The classifications every analysis shares: one rule and one threshold each.

A page shows a class (a weak prior, a clear effect), never a comparison of its own: the
wording formats the code these functions return, so the glossary, the model section and
every analysis cut at the same place.
"""

from __future__ import annotations

from typing import Literal

from analyses.core.stats import STRONG_EVIDENCE

__all__ = ["NEW_UNIT_EVIDENCE", "PRIOR_WEAK", "STRONG_EVIDENCE", "prior_class"]

#: A prior is weak when the posterior is at least ten times narrower than it (its influence,
#: the ratio of the posterior's sd to the prior's, at most 0.1).
PRIOR_WEAK = 0.1
#: A group is a place to roll out only when a new unit in it has at least this chance of a
#: positive effect, besides a clearly positive average: below it, one unit in ten or more
#: there may well lose.
NEW_UNIT_EVIDENCE = 0.9

PriorClass = Literal["weak", "noticeable"]


def prior_class(influence: float | None) -> PriorClass | None:
    """``weak`` (the data decide) or ``noticeable`` (the prior shapes the result).

    ``influence`` is the posterior's width over the prior's; ``None`` when not measured.
    """
    if influence is None:
        return None
    return "weak" if influence <= PRIOR_WEAK else "noticeable"
