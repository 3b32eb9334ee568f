"""The programme: a prior learned from the finished experiments, applied to every A/B readout.

After a run's readouts are written (fitted or cached), :func:`apply` learns the prior once
from the numbers in the bundles, with no refit: the relative lift of each finished
experiment's primary metric (its headline comparison), read from its HDI as an estimate and a
standard error of ``log(1 + lift)`` (:func:`analyses.ab_test.programme.estimate`).

The finished experiments are
- the rows of the ``[programme] history`` file: experiments read before readout, as
  summaries (:data:`HISTORY_COLUMNS`);
- the latest readout of every experiment in the output folder that the config no longer
  names (an experiment taken out of the config has ended: its last readout stands);
- the latest readout of a configured experiment past its planned length (its bundle's
  ``progress`` has ``day >= planned_days``).
A readout whose verdict was withheld, an A/A test and an observational comparison teach
nothing. Experiments pool by their primary metric's kind and direction (a conversion rate
learns from conversion rates); with fewer than ``analyses.core.programme.MIN_EXPERIMENTS``
finished ones in a group its readouts keep the weak prior and say why.

Each configured A/B readout's primary comparisons then get their ``programme`` numbers and
the bundle its ``programme_prior``; the verdict is decided again with the numbers
``decide_with`` names. A bundle whose programme numbers changed is rewritten and re-rendered
(its render key is removed first, so a run stopped in between re-renders it next time).

The module is split by its reasons to change: :mod:`readout.programme.history` (the history
file), :mod:`readout.programme.step` (learning the prior and applying it to a run's bundles)
and :mod:`readout.programme.page` (the numbers of ``programme.html``). Every name stays
importable from ``readout.programme``.
"""

from readout.programme.history import (
    HISTORY_COLUMNS,
    HISTORY_VERDICTS,
    OPTIONAL_COLUMNS,
    Past,
    read_history,
)
from readout.programme.page import (
    PAGE,
    RUNNING,
    _programme_row,
    attention,
    page_context,
    stage,
    write_page,
)
from readout.programme.step import (
    _FITS,
    NOT_TAUGHT,
    Group,
    Learned,
    _past,
    apply,
    learn,
    own_prior,
    prior_conflict,
    redraw_lift,
    rewrite,
    with_programme,
)

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_VERDICTS",
    "NOT_TAUGHT",
    "OPTIONAL_COLUMNS",
    "PAGE",
    "RUNNING",
    "_FITS",
    "Group",
    "Learned",
    "Past",
    "_past",
    "_programme_row",
    "apply",
    "attention",
    "learn",
    "own_prior",
    "page_context",
    "prior_conflict",
    "read_history",
    "redraw_lift",
    "rewrite",
    "stage",
    "with_programme",
    "write_page",
]
