"""The programme model's settings (grids, draws, the small-programme rule) and its inputs.

The experiments' estimates and SEs on the log scale the model works on
(:func:`from_lift`, :func:`from_draws`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Scales per octave of the fixed grid of component scales (ratio 2^(1/8), about 9%).
PER_OCTAVE = 8
#: Degrees of freedom the Student-t family may take (uniform prior); infinity is the normal.
DF_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, np.inf)
#: The family used unless asked otherwise (chosen by measuring: see the package's docstring).
FAMILY = "student_t"
FAMILIES = ("student_t", "normal", "two_normal")
#: Shares of the wide component the two-normal family may take (uniform prior).
SHARE_GRID = tuple(np.round(np.arange(0.05, 1.0, 0.1), 2))
#: Points of the coarse passes and of the fine pass of the adaptive grid of ``mu``.
MU_COARSE, MU_POINTS = 24, 32
#: The coarse passes use every this-many-th scale node for the scales a family learns.
COARSE_STRIDE = 4
#: Rows (experiments x mu values) per matrix product.
ROWS = 8192
#: The grid of ``mu`` spans where the posterior exceeds this share of its peak.
PRUNE = 1e-12
#: Hyperparameter nodes are kept until all but this share of the posterior mass is held.
NEGLIGIBLE = 1e-10
#: The grid of mu is widened while a leave-one-out posterior has more mass than this at an end.
EDGE = 1e-6
#: Draws per experiment behind an HDI (the means and probabilities are exact).
DRAWS = 4000
#: Below this many finished experiments sharing a primary-metric kind the weak prior stays.
MIN_EXPERIMENTS = 10
LOG_2PI = float(np.log(2 * np.pi))


# --------------------------------------------------------------------------- inputs


def from_lift(lift: Sequence[float], se: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and SEs of relative lifts, on the log scale the model works on.

    ``y = log(1 + lift)`` and, by the delta method, ``s = se / (1 + lift)``.

    Parameters
    ----------
    lift, se
        Each experiment's estimated relative lift (0.02 for +2%) and its standard error.

    Returns
    -------
    tuple of numpy.ndarray
        ``(y, s)``.
    """
    lift, se = np.asarray(lift, dtype=float), np.asarray(se, dtype=float)
    check_estimates(lift, se, "lift")
    if np.any(lift <= -1):
        raise ValueError("a relative lift must be above -1 (-100%): log(1 + lift) is modelled")
    return np.log1p(lift), se / (1 + lift)


def from_draws(lift_draws: np.ndarray) -> tuple[float, float]:
    """An experiment's estimate and SE on the log scale from its posterior draws of the lift.

    The mean and standard deviation of ``log(1 + lift)``: under a weak prior, the normal
    approximation of the likelihood where it is closest to normal.
    """
    z = np.log1p(np.asarray(lift_draws, dtype=float).ravel())
    return float(z.mean()), float(z.std(ddof=1))


def check_estimates(y: np.ndarray, s: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless ``y`` and ``s`` are estimates and standard errors to fit."""
    if y.shape != s.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(f"{name} and se must be two 1-D arrays of the same, non-zero length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"every {name} must be finite and every se finite and above 0")
