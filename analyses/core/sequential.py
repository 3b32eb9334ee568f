"""Sequential verdicts: the evidence a look before the planned end needs.

A readout that runs every morning looks at a running experiment many times. The fixed rule
(ship when the chance of being better reaches ``min_prob_better`` = 0.97) is built for one
look: applied every day it ships a change that does nothing 14% of the time over 25 daily
looks (measured; 15% exact) instead of 3%. This module is the rule that keeps daily looks
honest, as pure functions of the information fraction. docs/sequential.md has the measured
table, the robustness checks and what the integration round calls.

The rule
--------
Before the planned end a look needs the posterior probability of being better to reach

    needed(f) = Phi(min(C / sqrt(f), z_cap))          (an O'Brien-Fleming boundary)

where ``f`` is the information fraction (units counted so far / units the planned end will
count, or elapsed days whose windows have closed / planned such days), ``z_cap`` =
Phi^-1(0.9999) and ``C`` is solved so that, over daily looks, the chance that an experiment
with no effect ever crosses is exactly ``alpha = 1 - min_prob_better`` (0.03), the error of a
single look at the end. At and after the planned end the fixed rule applies with
``end_threshold = 1 - 5/6 alpha`` = 0.975: no rule that ends at exactly 0.97 can keep the
total at the fixed-horizon rate, and half a point is what the early looks cost. With the
defaults and 25 daily looks C = 2.162: a look needs 99.99% for the first third, 99.89%
half-way, 98.6% the day before the end, 97.5% at it.

Guardrail harm stops at any look when ``prob_harm`` reaches a Pocock boundary: the same
evidence every day before the end (99.89% with the defaults), ``end_threshold`` at it, the
same total error ``alpha``. A large harm stops on the first days it shows (a -19% change:
day 10.5 on average, against 12.2 with the win's boundary); a ship still needs every
guardrail ``ok`` by the fixed rule.

Why this rule (measured by :mod:`analyses.ab_test.sequential_calibration`)
------------------------------------------------------------------
28-day experiments, 1,200 users a day, a 10% purchase rate counted within 3 days of exposure
(units whose window has not closed are not counted), a look every day from day 4, every look
read by ``decide_comparisons`` on the readout's comparison (40,000 draws); 8,000 A/A tests,
2,000 per true lift (the lifts a single look at the end ships 50/80/95% of the time):

==========================================  ========  ====================  ==========
rule                                        A/A       power (x single look)  end needs
==========================================  ========  ====================  ==========
fixed 0.97, one look at the end             3.0%      49 / 78 / 94%          97%
fixed 0.97, every day (readout today)       13.6%     67 / 86 / 97%          97%
Lan-DeMets O'Brien-Fleming spending         3.2%      0.98 / 0.99 / 1.00     98.05%
Lan-DeMets Pocock spending                  3.1%      0.79 / 0.88 / 0.95     99.32%
Haybittle-Peto 99.9%, end solved            3.2%      0.98 / 0.99 / 1.00     97.44%
GrowthBook confidence sequence (N*=5000)    0.9%      0.41 / 0.58 / 0.79     99.91%
the same, then the end solved               3.1%      0.97 / 0.99 / 1.00     97.55%
sceptical prior (lift sd 5%), 0.97 daily    2.5%      0.85 / 0.91 / 0.98     97%
O'Brien-Fleming, end 97.5% (chosen)         3.1%      1.01 / 1.00 / 1.00     97.5%
==========================================  ========  ====================  ==========

(Monte Carlo errors: 0.2 points on the A/A rates.) Pocock spending and GrowthBook's
confidence sequence on its own lose more than the 10% of power allowed; the sceptical prior
is honest only at this traffic (10.5% of A/A tests ship at ten times it: a prior's pull
fades as the standard error shrinks); of the rest the chosen rule ends closest to the fixed
rule and ships wins 5.7 to 9.6 days before the end on average, within a day of the earliest.

Formulas and the recursion
--------------------------
``Z_k = estimate_k / se_k`` at information fractions ``f_1 < ... < f_K`` is a Brownian
motion in information time: ``S_k = Z_k sqrt(f_k)`` has independent increments
``S_k - S_{k-1} ~ N(theta (f_k - f_{k-1}), f_k - f_{k-1})`` with ``theta = E[Z_K]``. The
chance of first crossing ``b_k`` at look ``k`` is computed by recursive numerical
integration of the density of ``S`` on the continuation region (Armitage, McPherson & Rowe
1969; Jennison & Turnbull 2000, ch. 19), Simpson's rule on a grid of ``sqrt(delta) / 4``.
The readout's posterior probability of being better is ``Phi(Z)`` to within its Monte Carlo
error (flat Beta(1, 1) priors, thousands of units), so a boundary ``b`` on ``Z`` is the
evidence ``Phi(b)``. ``z_cap`` keeps the evidence within what 40,000 draws resolve.

References: O'Brien & Fleming (1979) Biometrics 35:549; Pocock (1977) Biometrika 64:191;
Lan & DeMets (1983) Biometrika 70:659; Haybittle (1971), Peto et al. (1976); Jennison &
Turnbull (2000) Group Sequential Methods, ch. 2, 7, 19; Howard, Ramdas, McAuliffe & Sekhon
(2021) Ann. Statist. 49:1055; Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas (2023)
arXiv:2103.06476 (GrowthBook's ``sequential_rho`` and half-width, eq. 9 and 161).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from analyses.core.stats import root

#: The rule's name in the bundle.
RULE = "obrien_fleming"
#: The harm rule's name in the bundle.
HARM_RULE = "pocock"
#: The most evidence a look can be asked for: 40,000 posterior draws resolve a probability
#: of 0.9999 (four draws on the wrong side); a boundary above it could not be told from 1.
MAX_EVIDENCE = 0.9999
#: Share of the error budget the planned end keeps: its threshold is 1 - END_SHARE * alpha
#: (0.975 for 0.97). The rest pays for the daily looks before it.
END_SHARE = 5 / 6
#: Designs allow for at most this many looks (a look a day for a year after the window);
#: a longer plan is designed for 366 equally spaced looks (a year: a few seconds to solve).
MAX_LOOKS = 366
#: Grid points per standard deviation of one look's increment in the recursion; 4 is
#: accurate to 1e-6 in the crossing probabilities (checked against finer grids).
GRID_STEPS = 4
#: Width of the grid in standard deviations of S around its mean.
GRID_WIDTH = 9.0
#: GrowthBook's default tuning parameter of its sequential mode (N*, total units).
GROWTHBOOK_TUNING = 5000.0


# --------------------------------------------------------------------------- recursion


class _Walk:
    """The density of ``S = Z sqrt(f)`` on the paths that have not crossed, look by look.

    Every look's grid has the same spacing ``h`` and ends at the look's boundary, so the
    transition from one look to the next (a normal kernel of the node distance) is a
    Toeplitz product, computed as one FFT convolution.
    """

    def __init__(self, drift: float, spacing: float) -> None:
        self.drift, self.h = drift, spacing
        self.fraction = 0.0
        self.grid: np.ndarray | None = None
        self.weighted: np.ndarray | None = None  # Simpson weight x density at each node

    def cross(self, fraction: float, bound: float) -> float:
        """The chance of crossing ``bound`` (on Z) at ``fraction`` for the first time."""
        from scipy.special import ndtr

        step = fraction - self.fraction
        edge = bound * np.sqrt(fraction)
        if self.grid is None:
            return float(ndtr((self.drift * fraction - edge) / np.sqrt(fraction)))
        gap = (edge - self.grid - self.drift * step) / np.sqrt(step)
        return float(np.dot(self.weighted, ndtr(-gap)))

    def advance(self, fraction: float, bound: float) -> None:
        """Move to the next look, keeping the paths that stay below ``bound``."""
        step = fraction - self.fraction
        spread = np.sqrt(fraction)
        low = self.drift * fraction - GRID_WIDTH * spread
        high = min(bound * spread, self.drift * fraction + GRID_WIDTH * spread)
        m = max(int(np.ceil((high - low) / self.h)), 2)
        m += m % 2  # an even number of intervals for Simpson's rule
        x = high - self.h * np.arange(m, -1, -1)
        weights = np.ones(m + 1)
        weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
        weights *= self.h / 3
        sd = np.sqrt(step)
        if self.grid is None:
            density = np.exp(-0.5 * ((x - self.drift * fraction) / sd) ** 2) / (
                sd * np.sqrt(2 * np.pi)
            )
        else:
            # density(x_i) = sum_j weighted_j k(x_i - u_j): x_i - u_j = x_0 - u_0 + (i - j) h.
            n = len(self.grid)
            t = np.arange(-(n - 1), m + 1)
            z = (x[0] - self.grid[0] - self.drift * step + t * self.h) / sd
            kernel = np.exp(-0.5 * z * z) / (sd * np.sqrt(2 * np.pi))
            density = convolve(self.weighted, kernel)[n - 1 : n + m]
            density = np.maximum(density, 0.0)  # FFT round-off in the far tails
        self.grid, self.weighted, self.fraction = x, weights * density, fraction


def convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full discrete convolution of two real sequences, by FFT.

    What ``scipy.signal.fftconvolve(a, b)`` computes (the same to round-off), with NumPy's
    FFT: importing ``scipy.signal`` takes over a second, more than a design's recursion.
    The transform's length is the power of two at or above the result's.
    """
    n = a.size + b.size - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n]


def _spacing(fractions: np.ndarray) -> float:
    """The grid spacing: a fraction of the smallest step's standard deviation."""
    steps = np.diff(np.concatenate([[0.0], fractions]))
    return float(np.sqrt(steps.min())) / GRID_STEPS


def crossing_probabilities(
    bounds: np.ndarray, fractions: np.ndarray, drift: float = 0.0
) -> np.ndarray:
    """The chance of first crossing each look's boundary, by recursive numerical integration.

    Parameters
    ----------
    bounds
        Upper boundaries on the z statistic, one per look (``np.inf``: no stop at that look).
    fractions
        Information fractions of the looks, increasing, in (0, ...]; 1 is the planned end.
    drift
        ``E[Z]`` at fraction 1 (0: no effect; ``Phi^-1(1 - alpha) + Phi^-1(power)``: an
        effect a single look at the end finds with that power).

    Returns
    -------
    numpy.ndarray
        ``P(Z_j < b_j for j < k, Z_k >= b_k)`` for each look ``k``; their sum is the chance
        of ever crossing (a false ship when ``drift`` is 0).

    Examples
    --------
    >>> float(crossing_probabilities(np.array([1.959964]), np.array([1.0])).sum().round(4))
    0.025
    """
    bounds = np.asarray(bounds, dtype=float)
    fractions = np.asarray(fractions, dtype=float)
    if bounds.shape != fractions.shape or np.any(np.diff(fractions) <= 0) or fractions[0] <= 0:
        raise ValueError("bounds and fractions: one bound per look, fractions increasing from > 0")
    walk = _Walk(drift, _spacing(fractions))
    out = np.empty(len(bounds))
    for k, (f, b) in enumerate(zip(fractions, bounds, strict=True)):
        out[k] = walk.cross(f, b) if np.isfinite(b) else 0.0
        if k < len(bounds) - 1:
            walk.advance(f, b if np.isfinite(b) else np.inf)
    return out


# --------------------------------------------------------------------------- candidates


def spending(fraction: np.ndarray | float, alpha: float, family: str) -> np.ndarray:
    """Lan-DeMets error-spending functions: the error spent by information fraction ``f``.

    ``obrien_fleming``: ``2 - 2 Phi(Phi^-1(1 - alpha/2) / sqrt(f))``; ``pocock``:
    ``alpha log(1 + (e - 1) f)`` (Lan & DeMets 1983; gsDesign's sfLDOF and sfLDPocock).
    """
    from scipy.special import ndtr, ndtri

    f = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    if family == "obrien_fleming":
        with np.errstate(divide="ignore"):
            z = np.where(f > 0, ndtri(1 - alpha / 2) / np.sqrt(np.maximum(f, 1e-300)), np.inf)
        return 2 * (1 - ndtr(z))
    if family == "pocock":
        return alpha * np.log1p((np.e - 1) * f)
    raise ValueError(f"spending family {family!r}: use 'obrien_fleming' or 'pocock'")


def spending_bounds(
    fractions: np.ndarray, alpha: float, family: str, cap: float = MAX_EVIDENCE
) -> np.ndarray:
    """Boundaries on Z that spend ``spending(f_k)`` by each look (the last spends all).

    A boundary above ``Phi^-1(cap)`` is held at it (the extra error it spends is counted and
    taken from the later looks).
    """
    from scipy.special import ndtri

    fractions = np.asarray(fractions, dtype=float)
    top = float(ndtri(cap))
    walk = _Walk(0.0, _spacing(fractions))
    spent, bounds = 0.0, []
    for k, f in enumerate(fractions):
        target = alpha if k == len(fractions) - 1 else float(spending(f, alpha, family))
        need = target - spent
        if need <= 0 or walk.cross(f, top) >= need:
            b = top
        else:
            b = root(lambda b, f=f, need=need: walk.cross(f, b) - need, -8.0, top, xtol=1e-9)
        spent += walk.cross(f, b)
        bounds.append(b)
        walk.advance(f, b)
    return np.array(bounds)


def confidence_sequence_bound(
    units: np.ndarray | float, alpha: float, tuning: float = GROWTHBOOK_TUNING
) -> np.ndarray:
    """The z a one-sided asymptotic confidence sequence needs to exclude 0 (GrowthBook).

    GrowthBook's sequential mode (gbstats, after Waudby-Smith et al. 2023, eq. 9 and 161):
    ``rho = sqrt((-2 ln(2 alpha) + ln(-2 ln(2 alpha) + 1)) / N*)`` and the one-sided
    half-width ``se sqrt(n) sqrt(2 (n rho^2 + 1) / (n rho)^2 ln(1 + sqrt(n rho^2 + 1) /
    (2 alpha)))`` with ``n`` the units in both arms: the interval excludes 0 when
    ``Z`` exceeds half-width / se, returned here.
    """
    n = np.asarray(units, dtype=float)
    a2 = 2 * alpha
    rho2 = (-2 * np.log(a2) + np.log(-2 * np.log(a2) + 1)) / tuning
    nr = n * rho2
    return np.sqrt(2 * (nr + 1) / nr * np.log(1 + np.sqrt(nr + 1) / (2 * alpha)))


def prior_bound(fraction: np.ndarray | float, z_fixed: float, ratio: float) -> np.ndarray:
    """The z a normal prior on the lift makes the fixed rule need.

    With a prior ``N(0, tau^2)`` on the lift and an estimate of standard error ``se``, the
    posterior probability of a positive lift is ``Phi(Z tau / sqrt(tau^2 + se^2))``, so the
    fixed rule ships when ``Z >= z_fixed sqrt(1 + se^2 / tau^2)``; ``se^2 = se_end^2 / f``
    and ``ratio = se_end / tau``.
    """
    f = np.asarray(fraction, dtype=float)
    return z_fixed * np.sqrt(1 + ratio**2 / f)


# --------------------------------------------------------------------------- the design


@dataclass(frozen=True)
class Design:
    """A boundary on the posterior probability, solved for a number of daily looks.

    Before the end a look needs ``Phi(min(constant * f ** (shape - 1/2), z_cap))``; at and
    after it (``f >= 1``) ``end_threshold``. ``shape`` 0 is O'Brien-Fleming's (strict early,
    easing towards the end), 1/2 Pocock's (the same evidence every day).

    Attributes
    ----------
    rule
        ``obrien_fleming`` or ``pocock``.
    alpha
        The error the design spends in all: ``1 - min_prob_better``.
    looks
        The daily looks it allows for (planned days less the metric's window, at most
        :data:`MAX_LOOKS`), at fractions ``k / looks``.
    constant
        ``C``, solved so that the chance of ever crossing with no effect is ``alpha``.
    end_threshold
        The evidence needed at and after the planned end.
    cap
        The most evidence an early look is asked for.
    """

    rule: str
    alpha: float
    looks: int
    constant: float
    end_threshold: float
    cap: float = MAX_EVIDENCE

    @property
    def shape(self) -> float:
        """Wang-Tsiatis shape: 0 for O'Brien-Fleming, 1/2 for Pocock."""
        return 0.0 if self.rule == RULE else 0.5

    def bound(self, fraction: np.ndarray | float) -> np.ndarray:
        """The boundary on Z at information fraction ``fraction`` (vectorised)."""
        from scipy.special import ndtri

        f = np.asarray(fraction, dtype=float)
        early = np.minimum(
            self.constant * np.maximum(f, 1e-12) ** (self.shape - 0.5), float(ndtri(self.cap))
        )
        return np.where(f >= 1.0, float(ndtri(self.end_threshold)), early)

    def evidence_needed(self, fraction: np.ndarray | float) -> np.ndarray | float:
        """The chance of being better a look at ``fraction`` must reach (vectorised).

        The function the days-to-decision forecast calls with its future looks' fractions.
        """
        from scipy.special import ndtr

        needed = ndtr(self.bound(fraction))
        return float(needed) if np.ndim(needed) == 0 else needed

    def fractions(self) -> np.ndarray:
        """The design looks' information fractions, ``k / looks``."""
        return np.arange(1, self.looks + 1) / self.looks

    def false_ship_rate(self) -> float:
        """The chance of ever crossing over the design's looks when there is no effect."""
        return float(crossing_probabilities(self.bound(self.fractions()), self.fractions()).sum())

    def power(self, drift: float) -> np.ndarray:
        """The chance of first crossing at each design look when ``E[Z]`` at the end is drift."""
        return crossing_probabilities(self.bound(self.fractions()), self.fractions(), drift)

    def as_dict(self) -> dict[str, Any]:
        """The design's parameters for the bundle."""
        return asdict(self)


def design(
    min_prob_better: float = 0.97,
    looks: int = 25,
    rule: str = RULE,
    end_share: float = END_SHARE,
    cap: float = MAX_EVIDENCE,
) -> Design:
    """The boundary for a fixed threshold and a number of daily looks (cached).

    Parameters
    ----------
    min_prob_better
        The fixed rule's threshold; ``alpha = 1 - min_prob_better`` is the error a single
        look at the end makes and the whole design may make.
    looks
        Daily looks with data before and at the planned end: planned days less the primary
        metric's window (held at :data:`MAX_LOOKS`). One look: the fixed rule itself.
    rule
        ``obrien_fleming`` (wins) or ``pocock`` (harm).
    end_share
        Share of ``alpha`` the end keeps: ``end_threshold = 1 - end_share * alpha``.
    cap
        The most evidence an early look is asked for.

    Returns
    -------
    Design
        With ``constant`` solved so that the false-ship rate over the looks is ``alpha``.
    """
    if not 0.5 < min_prob_better < 1:
        raise ValueError(f"min_prob_better {min_prob_better}: it must lie between 0.5 and 1")
    if rule not in (RULE, HARM_RULE):
        raise ValueError(f"rule {rule!r}: use {RULE!r} or {HARM_RULE!r}")
    if int(looks) < 1:
        raise ValueError(f"looks {looks}: at least one look (planned days beyond the window)")
    if not 0 < end_share < 1 or not min_prob_better < cap < 1:
        raise ValueError("end_share must lie in (0, 1) and cap between min_prob_better and 1")
    return _design(
        round(float(min_prob_better), 12), min(int(looks), MAX_LOOKS), rule, end_share, cap
    )


@lru_cache(maxsize=64)
def _design(min_prob_better: float, looks: int, rule: str, end_share: float, cap: float):
    alpha = round(1 - min_prob_better, 12)
    if looks == 1:
        return Design(rule, alpha, 1, float("inf"), min_prob_better, cap)
    end = round(1 - end_share * alpha, 12)

    def excess(constant: float) -> float:
        return Design(rule, alpha, looks, constant, end, cap).false_ship_rate() - alpha

    constant = root(excess, 0.5, 20.0, xtol=1e-6)
    return Design(rule, alpha, looks, float(constant), end, cap)


# --------------------------------------------------------------------------- a look


def design_looks(planned_days: int, window_days: float = 0) -> int:
    """Daily looks with data up to the planned end: planned days less the window (at least 1).

    A unit counts once its window has closed, so the first ``window_days`` days count nobody.
    """
    return max(int(planned_days) - int(np.ceil(window_days)), 1)


def information_fraction(
    day: float,
    planned_days: int,
    window_days: float = 0,
    units: float | None = None,
    planned_units: float | None = None,
) -> tuple[float, str]:
    """How far along the evidence is: ``(fraction, basis)``.

    Parameters
    ----------
    day
        The look's day, counted from the first exposure (1: the end of the first day).
    planned_days
        The planned length in days.
    window_days
        The deciding metric's window: units exposed in its last ``window_days`` days are
        not counted yet, so the evidence lags the calendar by that much.
    units
        Units counted so far (their windows closed).
    planned_units
        Units planned to be exposed by the planned end; the end counts
        ``planned_units * (planned_days - window) / planned_days`` of them (even traffic).

    Returns
    -------
    tuple
        The fraction (0 before any unit counts; 1 at the planned end) and its basis,
        ``units`` when both unit counts are given, else ``days``.
    """
    if planned_days < 1:
        raise ValueError(f"planned_days {planned_days}: at least 1")
    w = float(np.ceil(window_days))
    looks = design_looks(planned_days, window_days)
    if units is not None and planned_units is not None:
        if planned_units <= 0:
            raise ValueError(f"planned_units {planned_units}: it must be positive")
        counted_at_end = planned_units * looks / planned_days
        return max(float(units) / counted_at_end, 0.0), "units"
    return max((float(day) - w) / looks, 0.0), "days"


def look(
    day: float,
    planned_days: int,
    min_prob_better: float = 0.97,
    window_days: float = 0,
    units: float | None = None,
    planned_units: float | None = None,
) -> dict[str, Any]:
    """The numbers a look's ``decision`` carries: the evidence needed today and at the end.

    The verdict of a look is the readout's own decision with ``min_prob_better`` set to
    ``evidence_needed`` (before the end) or ``end_threshold`` (at and after it); guardrail
    harm stops when ``prob_harm`` reaches ``harm.evidence_needed`` (see
    :func:`guardrail_status`).

    Returns
    -------
    dict
        ``rule``, ``alpha``, ``looks``, ``constant``, ``cap``, ``fixed_threshold``,
        ``end_threshold``, ``day``, ``planned_days``, ``window_days``, ``units``,
        ``planned_units``, ``fraction``, ``fraction_basis``, ``at_end``,
        ``evidence_needed`` (this look's threshold, the end's at and after the end) and
        ``harm`` {``rule``, ``constant``, ``evidence_needed``}.
    """
    fraction, basis = information_fraction(day, planned_days, window_days, units, planned_units)
    looks = design_looks(planned_days, window_days)
    wins = design(min_prob_better, looks, RULE)
    harm = design(min_prob_better, looks, HARM_RULE)
    at_end = bool(day >= planned_days or fraction >= 1.0)
    f = 1.0 if at_end else fraction
    return {
        "rule": wins.rule,
        "alpha": wins.alpha,
        "looks": wins.looks,
        "constant": wins.constant,
        "cap": wins.cap,
        "fixed_threshold": float(min_prob_better),
        "end_threshold": wins.end_threshold,
        "day": float(day),
        "planned_days": int(planned_days),
        "window_days": float(window_days),
        "units": None if units is None else float(units),
        "planned_units": None if planned_units is None else float(planned_units),
        "fraction": float(fraction),
        "fraction_basis": basis,
        "at_end": at_end,
        "evidence_needed": wins.evidence_needed(f),
        "harm": {
            "rule": harm.rule,
            "constant": harm.constant,
            "evidence_needed": harm.evidence_needed(f),
        },
    }


def evidence_ahead(
    numbers: dict[str, Any], days_ahead: np.ndarray, units_per_day: float | None = None
) -> np.ndarray:
    """The evidence a look ``days_ahead`` days after this one will need (the forecast's).

    The future look's information fraction comes from :func:`information_fraction` at day
    ``day + h`` (and, when the fraction counts units, ``units + units_per_day * h``); at and
    after the planned end it is the end's threshold.

    Parameters
    ----------
    numbers
        :func:`look`'s numbers for today's look.
    days_ahead
        Days from today to each future look.
    units_per_day
        Units counted per day (needed when the fraction counts units).

    Returns
    -------
    numpy.ndarray
        The chance of being better each future look must reach.
    """
    days = np.atleast_1d(np.asarray(days_ahead, dtype=float))
    wins = design(1 - numbers["alpha"], numbers["looks"], numbers["rule"])
    out = np.empty(len(days))
    for i, h in enumerate(days):
        day = numbers["day"] + h
        units = None
        if numbers["fraction_basis"] == "units":
            if units_per_day is None:
                raise ValueError("units_per_day: needed when the fraction counts units")
            units = numbers["units"] + units_per_day * h
        f, _ = information_fraction(
            day, numbers["planned_days"], numbers["window_days"], units, numbers["planned_units"]
        )
        out[i] = wins.evidence_needed(1.0 if day >= numbers["planned_days"] else f)
    return out


# --------------------------------------------------------------------------- verdicts

#: Verdict and reason codes this rule adds (words are made at render time).
NO_CLEAR_DIFFERENCE = "no_clear_difference"
PLANNED_END_REACHED = "planned_end_reached"
BOUNDARY_NOT_REACHED = "sequential_boundary_not_reached"
GUARDRAIL_UNCLEAR_AT_END = "guardrail_unclear_at_end"
#: The primary metric's undecided reasons (``decide_comparisons``'s and this rule's).
UNDECIDED = ("not_enough_evidence", "interval_includes_zero", "loss_too_high")


def sequential_verdict(verdict: dict[str, Any], numbers: dict[str, Any]) -> dict[str, Any]:
    """A look's verdict from the decision made at its threshold, with the codes it adds.

    Parameters
    ----------
    verdict
        The readout's verdict (``decide``'s) made with ``min_prob_better`` =
        ``numbers["evidence_needed"]`` (its ``prob_better`` and ``lift_rel_hdi`` are read).
    numbers
        :func:`look`'s numbers for this look.

    Returns
    -------
    dict
        The verdict with ``sequential`` (the look's numbers). ``keep_collecting`` before the
        end whose evidence reaches the fixed threshold but not today's:
        ``reason_code = "sequential_boundary_not_reached"``. At or after the planned end
        "keep collecting" is no longer an answer: an undecided primary metric is a
        conclusion, ``verdict = "no_clear_difference"``, ``reason_code =
        "planned_end_reached"``, ``evidence_reason`` (the code it had), ``lift_rel_hdi``
        (the interval reached) and ``precision`` (its half-width); a winner held back by a
        guardrail that may harm is ``keep_control``, ``guardrail_unclear_at_end``.
    """
    out = {**verdict, "sequential": numbers}
    if verdict["verdict"] != "keep_collecting":
        return out
    if numbers["at_end"] and verdict["reason_code"] == "guardrail_unclear":
        return out | {"verdict": "keep_control", "reason_code": GUARDRAIL_UNCLEAR_AT_END}
    if numbers["at_end"] and verdict["reason_code"] in UNDECIDED:
        hdi = verdict.get("lift_rel_hdi")
        return out | {
            "verdict": NO_CLEAR_DIFFERENCE,
            "reason_code": PLANNED_END_REACHED,
            "evidence_reason": verdict["reason_code"],
            "precision": (hdi[1] - hdi[0]) / 2 if hdi is not None else None,
        }
    if (
        verdict["reason_code"] == "not_enough_evidence"
        and verdict["prob_better"] >= numbers["fixed_threshold"]
    ):
        return out | {"reason_code": BOUNDARY_NOT_REACHED}
    return out


def guardrail_status(prob_harm: float, numbers: dict[str, Any]) -> str:
    """A guardrail's status at a look: ``harm``, ``ok`` or ``unclear``.

    ``harm`` when the chance of harm beyond the tolerance reaches the harm boundary (before
    the end: Pocock's, the same every day; at the end: ``end_threshold``); ``ok`` when it is
    at most ``1 - fixed_threshold`` (as the fixed rule: a ship needs no sign of harm);
    ``unclear`` between. ``harm`` stops the experiment (keep the control) at any look.
    """
    if prob_harm >= numbers["harm"]["evidence_needed"]:
        return "harm"
    return "ok" if prob_harm <= 1 - numbers["fixed_threshold"] else "unclear"
