"""The typed programme fields of an A/B bundle (optional: older bundles have none).

``programme`` beside a primary comparison's own numbers, and ``programme_prior``: what
:mod:`analyses.ab_test.programme` reads a readout with and which numbers decided.
"""

from __future__ import annotations

from typing import Literal

from analyses.core.results import MISSING, Interval, Prob, Record


class ProgrammeLift(Record):
    """A comparison's relative lift given the programme: the learned prior times its data."""

    mean: float
    hdi: Interval
    prob_better: Prob
    #: The expected shortfall of shipping, relative to the control (as ``expected_loss_rel``).
    expected_loss_rel: float
    #: The comparison's own HDI of the relative lift, kept where the verdict's copy reads
    #: the programme's numbers (:func:`analyses.ab_test.programme.as_decided`; not written).
    alone_hdi: Interval | MISSING = MISSING


class Predictive(Record):
    """A new experiment's true lift under the learned prior."""

    median: float
    hdi: Interval
    prob_positive: Prob


class Components(Record):
    """The learned prior as a mixture of normals over ``log(1 + lift)``."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    sds: tuple[float, ...]


class AppliedPrior(Record):
    """The prior the readout was actually read with, summarised from that mixture (issue 22).

    A running experiment's is the learned prior (``components``); a finished one's is the
    prior learned from the other experiments. ``normals``: its components; ``sd_low`` and
    ``sd_high`` the range of sds (log-lift units) of the components holding 99% of its
    weight; ``hdi`` of the lift;
    ``prob_beyond``: P(|lift| > ``beyond``).
    """

    normals: int
    sd_low: float
    sd_high: float
    hdi: Interval
    beyond: float
    prob_beyond: Prob


class ProgrammePrior(Record):
    """The prior the primary metric was read with, and which numbers decided.

    ``prior`` ``learned`` with its family and hyperparameters, or ``weak`` with
    ``reason_code`` (``too_few_experiments``: fewer than ``minimum`` finished experiments
    share the metric's kind). ``experiments``: the finished experiments it was learned from.
    """

    prior: Literal["learned", "weak"]
    reason_code: Literal["enough_experiments", "too_few_experiments"]
    kind: str
    minimum: int
    experiments: int
    decide_with: Literal["programme", "alone"]
    #: The numbers the verdict read, and the verdict the experiment's own would have given.
    decided_with: Literal["programme", "alone"]
    alone_verdict: str
    family: str | MISSING = MISSING
    location: float | MISSING = MISSING
    scale: float | MISSING = MISSING
    df: float | None | MISSING = MISSING
    predictive: Predictive | MISSING = MISSING
    components: Components | MISSING = MISSING
    applied: AppliedPrior | MISSING = MISSING
    #: The two-sided tail probability of the primary comparison's own estimate under the
    #: prior predictive (the applied prior plus the estimate's noise): small where the
    #: experiment's data are far outside what the programme expects (a prior-data conflict,
    #: :func:`analyses.core.judgement.conflict_class`).
    conflict_p: Prob | MISSING = MISSING
