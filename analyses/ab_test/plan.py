"""How long an A/B test needs: the chance of a clear answer by each planned length.

From a metric's baseline (a conversion rate, or a mean and a spread per unit) and the units
exposed a day, each simulated experiment

1. splits each day's units at random between the arms (a control and one treatment, each a
   ``1 / arms`` share; further arms only take their share of the traffic),
2. draws each arm's daily sum (binomial conversions; a normal sum of per-unit values),
   with the treatment's true value ``(1 + min_effect)`` times the control's in the metric's
   good direction,
3. at each day's look counts the units whose window has closed (exposed at least
   ``window_days`` before), summarises each arm's posterior by its mean and standard
   deviation (the Beta posterior of a rate, with the readout's Beta(1, 1) prior; the normal
   posterior of a mean) and makes the comparison's decision numbers from those normals
   (:func:`analyses.ab_test.forecast.normal_comparison`, what the readout's forecast uses),
4. decides each look with the readout's own rule,
   :func:`analyses.ab_test.decide.comparisons_verdict`: the **fixed** rule reads the planned
   end alone at ``min_prob_better``; the **sequential** rule reads every day up to the
   planned end at the evidence :func:`analyses.core.sequential.look` asks of that day (the
   rule a readout run every morning uses).

A clear answer is a ship: the verdict the readout should reach when the true lift is the
minimum effect. Its chance by a planned length is the share of simulated experiments that
ship by then (its Monte Carlo error is reported beside it); the plan is the shortest length
whose chance reaches each target (80% and 90%), found by bisection on the length (the
simulations share their random numbers, so the chance grows with the length).

Only looks whose chance of being better reaches the look's threshold (a condition every ship
needs) are passed to the decision code: the others cannot ship. The whole calculation takes
a second or two (most of it solving the sequential design of each planned length).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from analyses.ab_test.decide import Many, verdicts
from analyses.ab_test.forecast import normal_comparison
from analyses.ab_test.plan_results import PlanNumbers
from analyses.ab_test.spec import Decision
from analyses.core import sequential
from analyses.core.base import CI_PROB

#: Simulated experiments per plan: the chance of a clear answer near 80% has a Monte Carlo
#: error of 0.6 points.
SIMULATIONS = 4000
#: The chances of a clear answer a plan is made for.
TARGETS = (0.8, 0.9)
#: The minimum effect (relative lift) planned for when neither the command nor the
#: experiment's ROPE gives one.
DEFAULT_MIN_EFFECT = 0.02
#: The longest plan searched, in days (a year).
MAX_DAYS = 365
#: A plan is stated to this share of its length (see :func:`resolution`).
RESOLUTION = 0.02


@dataclass(frozen=True)
class Baseline:
    """A metric's recent history: its value per unit, its spread, and the traffic.

    Attributes
    ----------
    kind
        ``binary`` (a rate: ``mean`` is the rate) or ``mean`` (a mean per unit with spread
        ``sd``).
    mean
        The rate, or the mean per unit.
    sd
        The spread of the per-unit values (for a rate, ``sqrt(p (1 - p))``).
    units
        Units the baseline was measured on.
    units_per_day
        Units exposed a day, all arms together.
    arms
        Arms the traffic is split between (the control and the treatments).
    window_days
        The metric's window: a unit counts once this many days have passed since exposure.
    higher_is_better
        The metric's good direction.
    """

    kind: Literal["binary", "mean"]
    mean: float
    sd: float
    units: float
    units_per_day: float
    arms: int = 2
    window_days: float = 0.0
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("binary", "mean"):
            raise ValueError(f"kind {self.kind!r}: use 'binary' or 'mean'")
        if self.kind == "binary" and not 0 < self.mean < 1:
            raise ValueError(f"a rate of {self.mean}: it must lie strictly between 0 and 1")
        if self.kind == "mean" and (self.mean == 0 or not self.sd > 0):
            raise ValueError("a mean of 0 or a spread of 0 gives no relative lift to plan for")
        if not self.units_per_day >= 1:
            raise ValueError(f"{self.units_per_day} units a day: at least one is needed")
        if self.arms < 2:
            raise ValueError(f"{self.arms} arms: a test needs a control and a treatment")

    @property
    def window(self) -> int:
        """Whole days before a unit counts."""
        return int(np.ceil(self.window_days))

    def treated(self, min_effect: float) -> float:
        """The treatment's true value: the minimum effect in the good direction."""
        d = 1.0 if self.higher_is_better else -1.0
        return self.mean * (1 + d * min_effect)


@dataclass(frozen=True)
class Looks:
    """Every simulated experiment's comparison at every daily look (arrays of shape (N, K)).

    Column ``k`` is the look on day ``window + 1 + k``: it counts the units of days
    ``1 .. k + 1``.
    """

    window: int
    prob_better: np.ndarray
    expected_loss_rel: np.ndarray
    low: np.ndarray
    high: np.ndarray
    units: np.ndarray  # units counted in both compared arms, (N, K)

    @property
    def days(self) -> np.ndarray:
        """The day of each look."""
        return self.window + 1 + np.arange(self.prob_better.shape[1])

    def column(self, day: int) -> int:
        """The column of the look on ``day``."""
        return int(day) - self.window - 1


def simulate_looks(
    baseline: Baseline,
    min_effect: float,
    days: int,
    simulations: int,
    rng: np.random.Generator,
    prob: float = CI_PROB,
    prior: tuple[float, float] = (1.0, 1.0),
) -> Looks:
    """Simulate ``simulations`` experiments day by day and compare the arms at every look.

    Parameters
    ----------
    baseline
        The metric's history and the traffic.
    min_effect
        The treatment's true relative lift, in the metric's good direction.
    days
        The last day simulated (at least ``window + 1``).
    simulations
        Experiments simulated.
    rng
        The random numbers.
    prob
        The interval's probability (the readout's ``ci_prob``).
    prior
        The Beta prior of a rate (the readout's ``priors.alpha``, ``priors.beta``).

    Returns
    -------
    Looks
        The decision numbers of each experiment's look on each day from ``window + 1``.
    """
    w = baseline.window
    k = int(days) - w
    if k < 1:
        raise ValueError(f"{days} days: the first look with data is day {w + 1}")
    per_day = max(int(round(baseline.units_per_day)), 1)
    n_c = rng.binomial(per_day, 1 / baseline.arms, (simulations, k))
    n_t = rng.binomial(per_day - n_c, 1 / (baseline.arms - 1))
    truth = {"c": baseline.mean, "t": baseline.treated(min_effect)}
    posterior = {}
    for arm, n in (("c", n_c), ("t", n_t)):
        n_cum = np.cumsum(n, axis=1).astype(float)
        if baseline.kind == "binary":
            x = np.cumsum(rng.binomial(n, min(max(truth[arm], 0.0), 1.0)), axis=1)
            a, b = prior[0] + x, prior[1] + n_cum - x
            mean = a / (a + b)
            sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        else:
            sums = np.cumsum(
                n * truth[arm] + np.sqrt(n) * baseline.sd * rng.standard_normal(n.shape), axis=1
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(n_cum > 0, sums / np.maximum(n_cum, 1), baseline.mean)
                sd = np.where(n_cum > 0, baseline.sd / np.sqrt(np.maximum(n_cum, 1)), np.inf)
        posterior[arm] = (mean, sd)
    direction = 1.0 if baseline.higher_is_better else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = normal_comparison(
            "treatment", "control", posterior["c"], posterior["t"], direction, prob
        )
    return Looks(
        window=w,
        prob_better=np.nan_to_num(c["prob_better"], nan=0.5),
        expected_loss_rel=c["expected_loss_rel"],
        low=c["low"],
        high=c["high"],
        units=np.cumsum(n_c + n_t, axis=1).astype(float),
    )


def _ships(
    looks: Looks,
    rows: np.ndarray,
    col: int,
    threshold: float,
    decision: Decision,
    higher_is_better: bool,
) -> np.ndarray:
    """Which of ``rows`` the readout's decision ships at look ``col`` with ``threshold``."""
    rule = decision.model_copy(update={"min_prob_better": float(threshold)})
    many = Many(
        prob_better=looks.prob_better[rows, col][None],
        expected_loss_rel=looks.expected_loss_rel[rows, col][None],
        low=looks.low[rows, col][None],
        high=looks.high[rows, col][None],
    )
    return verdicts(many, rule, False, higher_is_better)[0] == "ship"


def fixed_power(looks: Looks, day: int, decision: Decision, higher_is_better: bool = True) -> float:
    """The chance that the fixed rule, read once on ``day``, ships."""
    rows = np.arange(looks.prob_better.shape[0])
    ships = _ships(
        looks, rows, looks.column(day), decision.min_prob_better, decision, higher_is_better
    )
    return float(ships.mean())


def sequential_power(
    looks: Looks, planned_days: int, decision: Decision, higher_is_better: bool = True
) -> float:
    """The chance that a readout read every day up to ``planned_days`` ships by then.

    Each day's look needs the evidence the sequential design asks of it, as
    :func:`analyses.core.sequential.look` computes it (the design for the planned days less
    the window, the information fraction of the days whose windows have closed); the planned
    end needs the end's threshold. Only the wins' design is solved (harm is not planned).
    """
    w = looks.window
    wins = sequential.design(
        decision.min_prob_better, sequential.design_looks(planned_days, w), sequential.RULE
    )
    days = np.arange(w + 1, int(planned_days) + 1)
    fractions = np.array([sequential.information_fraction(d, planned_days, w)[0] for d in days])
    needed = np.atleast_1d(wins.evidence_needed(np.where(days >= planned_days, 1.0, fractions)))
    pending = np.arange(looks.prob_better.shape[0])
    for day, threshold in zip(days, needed, strict=True):
        if not len(pending):
            break
        shipped = _ships(looks, pending, looks.column(day), threshold, decision, higher_is_better)
        pending = pending[~shipped]
    return 1.0 - len(pending) / looks.prob_better.shape[0]


RULES = ("fixed", "sequential")


@dataclass
class _Search:
    """Chances of a clear answer by planned length, computed once each."""

    looks: Looks
    rule: str
    decision: Decision
    higher_is_better: bool
    seen: dict[int, float] = field(default_factory=dict)

    def power(self, day: int) -> float:
        if day not in self.seen:
            of = fixed_power if self.rule == "fixed" else sequential_power
            self.seen[day] = of(self.looks, day, self.decision, self.higher_is_better)
        return self.seen[day]

    def shortest(self, target: float, days: list[int], near: int | None = None) -> int | None:
        """The first of ``days`` (increasing) whose chance reaches ``target``, or None.

        Bisection over the list; ``near`` (a guess: the fixed rule's length, which the
        sequential rule's is close to) first brackets the answer by steps of 1, 2, 4, ...
        entries from it, so few lengths (each a sequential design to solve) are tried.
        """
        low, high = 0, len(days) - 1
        if near is not None:
            start = min(range(len(days)), key=lambda i: abs(days[i] - near))
            step = 1
            if self.power(days[start]) >= target:
                high, probe = start, start - step
                while probe > low and self.power(days[probe]) >= target:
                    high, step = probe, 2 * step
                    probe = high - step
                low = max(probe, low)
            else:
                low, probe = start, start + step
                while probe < high and self.power(days[probe]) < target:
                    low, step = probe, 2 * step
                    probe = low + step
                high = min(probe, high)
        if self.power(days[high]) < target:
            return None
        if self.power(days[low]) >= target:
            return days[low]
        while high - low > 1:
            mid = (low + high) // 2
            if self.power(days[mid]) >= target:
                high = mid
            else:
                low = mid
        return days[high]


def resolution(days: int | None) -> int:
    """Whole days a plan of about ``days`` is stated to: 2% of it (at least 1).

    About what the Monte Carlo error supports: near 80%, the chance's error of 0.6 points
    moves the length it reaches by about 2% of it (a chance that grows from 80% to 90% over
    a third more days), so a 230-day plan is given to 5 days and a 40-day plan to the day.
    """
    return max(1, int(round(RESOLUTION * days))) if days else 1


def plan(
    baseline: Baseline,
    min_effect: float,
    decision: Decision,
    seed: int,
    targets: tuple[float, ...] = TARGETS,
    simulations: int = SIMULATIONS,
    max_days: int = MAX_DAYS,
    prob: float = CI_PROB,
    prior: tuple[float, float] = (1.0, 1.0),
) -> PlanNumbers:
    """The planned length for each target chance of a clear answer, under each rule.

    Parameters
    ----------
    baseline
        The metric's history and the traffic.
    min_effect
        The smallest relative lift worth finding (0.02: 2%), in the metric's good direction.
    decision
        The experiment's decision thresholds (the readout's ``decision``).
    seed
        Seed of the simulations (the same seed gives the same plan).
    targets
        Chances of a clear answer to plan for.
    simulations
        Experiments simulated.
    max_days
        The longest plan searched.
    prob
        The interval's probability.
    prior
        The Beta prior of a rate.

    Returns
    -------
    PlanNumbers
        Codes and numbers: ``baseline``, ``min_effect``, ``decision``, ``simulations``,
        ``seed``, ``max_days``, ``rules`` {``fixed``, ``sequential``: ``targets``
        [{``target``, ``days`` (None: beyond ``max_days``), ``units_exposed``,
        ``units_counted``, ``prob``, ``mc_se``}], ``curve`` [{``days``, ``prob``}], and for
        the sequential rule ``end_threshold``, the evidence its planned end needs}, and
        ``planned_days``: the sequential rule's length for the first target (None when
        beyond ``max_days``).
    """
    if not 0 < min_effect < 1:
        raise ValueError(f"min_effect {min_effect}: a relative lift between 0 and 1 (0.02: 2%)")
    w = baseline.window
    first = w + 1
    last = max(int(max_days), first)
    rng = np.random.default_rng(seed)
    looks = simulate_looks(baseline, min_effect, last, simulations, rng, prob, prior)
    searches = {rule: _Search(looks, rule, decision, baseline.higher_is_better) for rule in RULES}
    exact = searches["fixed"].shortest(targets[0], list(range(first, last + 1)))
    step = resolution(exact)
    grid = [d for d in range(first, last + 1) if d % step == 0 or d == last] or [last]
    rules: dict[str, Any] = {}
    for rule in RULES:
        planned = []
        for i, target in enumerate(targets):
            near = rules["fixed"]["targets"][i]["days"] if rule == "sequential" else None
            days = searches[rule].shortest(target, grid, near)
            chance = searches[rule].power(days if days is not None else last)
            planned.append(
                {
                    "target": float(target),
                    "days": days,
                    "units_exposed": None if days is None else baseline.units_per_day * days,
                    "units_counted": None if days is None else baseline.units_per_day * (days - w),
                    "prob": chance,
                    "mc_se": float(np.sqrt(chance * (1 - chance) / simulations)),
                }
            )
        rules[rule] = {"targets": planned}
    advice = [t["days"] for t in rules["sequential"]["targets"] if t["days"] is not None]
    shown = _curve_days(grid, sorted(set(advice)))
    for rule in RULES:
        rules[rule]["curve"] = [{"days": d, "prob": searches[rule].power(d)} for d in shown]
    advised = rules["sequential"]["targets"][0]["days"]
    if advised is not None:
        rules["sequential"]["end_threshold"] = sequential.design(
            decision.min_prob_better, sequential.design_looks(advised, w)
        ).end_threshold
    return PlanNumbers.model_validate(
        {
            "baseline": asdict(baseline),
            "min_effect": float(min_effect),
            "decision": decision.model_dump(),
            "ci_prob": float(prob),
            "simulations": int(simulations),
            "seed": int(seed),
            "max_days": last,
            "rules": rules,
            "planned_days": advised,
        }
    )


def _curve_days(grid: list[int], planned: list[int]) -> list[int]:
    """The lengths the table of chances shows, on the grid the plans are stated to.

    The sequential rule's plans (the advice), and a half and three quarters of the shortest;
    without a plan, a few lengths.
    """
    if not planned:
        return sorted({grid[round(i)] for i in np.linspace(0, len(grid) - 1, 4)})
    shorter = [min(grid, key=lambda d, f=f: abs(d - f * planned[0])) for f in (0.5, 0.75)]
    return sorted({*shorter, *planned})
