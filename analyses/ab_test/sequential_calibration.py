"""How the sequential rule was chosen: simulated experiments read every day by the readout.

Each simulated experiment has ``users_per_day`` users a day for ``planned_days`` days, split
at random between a control and a treatment, and a purchase rate of ``rate`` (times
``1 + lift`` in the treatment) counted within ``window_days`` of exposure: a look at the end
of day ``t`` counts the units exposed on days ``1 .. t - window_days`` (their windows have
closed) and leaves out the rest, as readout reads a running experiment. A look every day from
the first with data to the planned end.

Every look is read through the readout's own code: the comparison ``ab_test.metrics.summarise``
makes (exact Beta posteriors, 40,000 draws: its ``arm_draws`` and ``compare``) and
``ab_test.decide.decide_comparisons`` with the rule's threshold for that look (a guardrail's
status from ``prob_harm``). Reading every look that way costs about 8 ms,
so looks that cannot decide are left out *exactly*: a rule needs the code at a look only when
the look's exact chance of being better (Beta posteriors, numerical integration) plus six
Monte Carlo standard errors of 40,000 draws reaches the rule's threshold. Each look's draws
come from a generator seeded by (experiment, look), so leaving a look out changes no other.

Beside every measured rate is the exact one for a normal approximation of the same design
(:func:`analyses.core.sequential.crossing_probabilities`). ``python -m
analyses.ab_test.sequential_calibration`` prints the whole table (``make bench`` runs it).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyses.ab_test import Decision

# The readout's decision code (the three names the integration round re-points after #24).
from analyses.ab_test.decide import decide_comparisons
from analyses.ab_test.metrics import Metric, Priors, arm_draws, compare, observed, sceptical
from analyses.ab_test.results import Comparison
from analyses.core import sequential
from analyses.core.base import CI_PROB, Settings
from analyses.core.stats import root

#: The readout's posterior draws per metric (``settings.exact_draws``).
DRAWS = Settings().exact_draws
#: Monte Carlo standard errors of a probability from DRAWS draws that a skipped look keeps
#: between its exact chance and the threshold.
SCREEN_SD = 6.0
ARMS = ["control", "treatment"]
#: The deciding metric, as a guardrail too (so ``prob_harm`` is computed; no tolerance: the
#: harshest case for false harm stops).
METRIC = Metric("purchase", "purchase rate", "binary", role="guardrail", tolerated_harm=0.0)


@dataclass(frozen=True)
class Scenario:
    """The simulated experiments' shape (the issue's: 28 days, 1,200 users a day)."""

    planned_days: int = 28
    users_per_day: int = 1200
    rate: float = 0.10
    window_days: int = 3
    min_prob_better: float = 0.97

    @property
    def looks(self) -> int:
        """Daily looks with data: from day ``window_days + 1`` to the planned end."""
        return sequential.design_looks(self.planned_days, self.window_days)

    @property
    def days(self) -> np.ndarray:
        """The day of each look."""
        return np.arange(self.window_days + 1, self.planned_days + 1)

    @property
    def fractions(self) -> np.ndarray:
        """The looks' information fractions (units counted / units counted at the end)."""
        return np.arange(1, self.looks + 1) / self.looks

    @property
    def alpha(self) -> float:
        """The fixed rule's one-look error."""
        return 1 - self.min_prob_better

    def se_end(self, lift: float = 0.0) -> float:
        """Standard error of the difference in rates at the planned end."""
        n = self.users_per_day * self.looks / 2
        p, q = self.rate, self.rate * (1 + lift)
        return float(np.sqrt((p * (1 - p) + q * (1 - q)) / n))

    def drift(self, lift: float) -> float:
        """``E[Z]`` at the planned end for a relative lift."""
        return self.rate * lift / self.se_end(lift)

    def lift_for(self, power: float) -> float:
        """The relative lift a single look at the end ships with probability ``power``."""
        from scipy.special import ndtri

        target = ndtri(self.min_prob_better) + ndtri(power)
        return float(root(lambda lift: self.drift(lift) - target, 0.0, 2.0, xtol=1e-9))


@dataclass(frozen=True)
class Rule:
    """A decision rule: the threshold of each look (NaN: no decision at that look).

    ``side`` ``win``: ship when ``decide_comparisons`` with that threshold ships. ``harm``:
    stop when ``prob_harm`` reaches it. ``prior_sd``: the fixed rule read with the readout's
    sceptical prior, a normal-like prior on the relative lift of that spread.
    ``bounds``: the same rule on the z statistic, for the exact calculation.
    """

    name: str
    side: str
    needed: tuple[float, ...]
    bounds: tuple[float, ...]
    prior_sd: float | None = None
    note: str = ""


def _from_bounds(name: str, side: str, bounds: np.ndarray, note: str = "") -> Rule:
    from scipy.special import ndtr

    b = np.asarray(bounds, dtype=float)
    needed = np.where(np.isfinite(b), ndtr(b), np.nan)
    return Rule(name, side, tuple(needed.tolist()), tuple(b.tolist()), note=note)


def _solve_end(early: np.ndarray, fractions: np.ndarray, alpha: float) -> float:
    """The end bound that makes the total error ``alpha`` after the early bounds."""

    def excess(end: float) -> float:
        bounds = np.r_[early, end]
        return sequential.crossing_probabilities(bounds, fractions).sum() - alpha

    return float(root(excess, 0.0, 8.0, xtol=1e-7))


def candidates(scenario: Scenario, prior_sd: float = 0.05) -> list[Rule]:
    """The rules measured for wins: the references, the candidates and the chosen one."""
    from scipy.special import ndtri

    f, k, alpha = scenario.fractions, scenario.looks, scenario.alpha
    fixed = float(ndtri(scenario.min_prob_better))
    never = np.full(k - 1, np.inf)
    units = scenario.users_per_day * np.arange(1, k + 1)
    cs = sequential.confidence_sequence_bound(units, alpha)
    chosen = sequential.design(scenario.min_prob_better, k)
    ratio = scenario.se_end() / scenario.rate / prior_sd
    prior = Rule(
        f"sceptical prior (sd {prior_sd:.0%}), {scenario.min_prob_better:g} daily",
        "win",
        tuple([scenario.min_prob_better] * k),
        tuple(sequential.prior_bound(f, fixed, ratio).tolist()),
        prior_sd=prior_sd,
        note="the readout's sceptical prior, fixed rule every day",
    )
    hp_early = np.full(k - 1, float(ndtri(0.999)))
    p, end = f"{scenario.min_prob_better:g}", f"{chosen.end_threshold:.1%}"
    return [
        _from_bounds(f"fixed {p}, end only", "win", np.r_[never, fixed], "the reference"),
        _from_bounds(f"fixed {p}, daily", "win", np.full(k, fixed), "readout today"),
        _from_bounds(
            "Lan-DeMets O'Brien-Fleming",
            "win",
            sequential.spending_bounds(f, alpha, sequential.RULE),
        ),
        _from_bounds("Lan-DeMets Pocock", "win", sequential.spending_bounds(f, alpha, "pocock")),
        _from_bounds(
            "Haybittle-Peto 0.999, end solved",
            "win",
            np.r_[hp_early, _solve_end(hp_early, f, alpha)],
        ),
        _from_bounds("GrowthBook CS (N*=5000)", "win", cs, "confidence sequence throughout"),
        _from_bounds(
            "GrowthBook CS, end solved",
            "win",
            np.r_[cs[:-1], _solve_end(cs[:-1], f, alpha)],
            "confidence sequence before the end",
        ),
        prior,
        _from_bounds(
            f"O'Brien-Fleming, end {end} (chosen)", "win", chosen.bound(f), "the chosen rule"
        ),
    ]


def harm_candidates(scenario: Scenario) -> list[Rule]:
    """The rules measured for guardrail harm."""
    from scipy.special import ndtri

    f, k = scenario.fractions, scenario.looks
    fixed = float(ndtri(scenario.min_prob_better))
    never = np.full(k - 1, np.inf)
    wins = sequential.design(scenario.min_prob_better, k)
    harm = sequential.design(scenario.min_prob_better, k, sequential.HARM_RULE)
    p, end = f"{scenario.min_prob_better:g}", f"{harm.end_threshold:.1%}"
    return [
        _from_bounds(f"harm: fixed {p}, end only", "harm", np.r_[never, fixed], "the reference"),
        _from_bounds(f"harm: fixed {p}, daily", "harm", np.full(k, fixed)),
        _from_bounds("harm: as wins (O'Brien-Fleming)", "harm", wins.bound(f)),
        _from_bounds(f"harm: Pocock, end {end} (chosen)", "harm", harm.bound(f), "the chosen rule"),
    ]


# --------------------------------------------------------------------------- simulation


def prob_beta_greater(
    a_t: np.ndarray, b_t: np.ndarray, a_c: np.ndarray, b_c: np.ndarray, nodes: int = 120
) -> np.ndarray:
    """Exact ``P(T > C)`` for independent Beta posteriors (vectorised), by Simpson's rule.

    ``P = integral of pdf_C(x) (1 - F_T(x)) dx`` over the control's mean +/- 10 sd, accurate
    to 1e-10 at a few hundred units or more (checked against adaptive quadrature).
    """
    from scipy.special import betainc, betaln

    a_t, b_t, a_c, b_c = (np.asarray(v, dtype=float) for v in (a_t, b_t, a_c, b_c))
    mean = a_c / (a_c + b_c)
    sd = np.sqrt(a_c * b_c / ((a_c + b_c) ** 2 * (a_c + b_c + 1)))
    low, high = np.clip(mean - 10 * sd, 0, 1), np.clip(mean + 10 * sd, 0, 1)
    t = np.linspace(0.0, 1.0, nodes + 1)
    x = np.clip(low[..., None] + (high - low)[..., None] * t, 1e-300, 1 - 1e-16)
    log_pdf = (
        (a_c[..., None] - 1) * np.log(x)
        + (b_c[..., None] - 1) * np.log1p(-x)
        - betaln(a_c, b_c)[..., None]
    )
    g = np.exp(log_pdf) * (1 - betainc(a_t[..., None], b_t[..., None], x))
    w = np.ones(nodes + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return np.clip((g * w).sum(-1) * (high - low) / (3 * nodes), 0.0, 1.0)


@dataclass
class Run:
    """One simulated batch: each rule's first crossing look per experiment (-1: never)."""

    scenario: Scenario
    lift: float
    experiments: int
    crossed: dict[str, np.ndarray]
    calls: int = 0
    looks_read: int = 0
    seconds: float = 0.0
    closest: dict[str, float] = field(default_factory=dict)


def _data(scenario: Scenario, lift: float, experiments: int, rng: np.random.Generator):
    """Counted units and purchases per arm at every look (cumulative over closed windows)."""
    k = scenario.looks
    n_t = rng.binomial(scenario.users_per_day, 0.5, (experiments, k))
    n_c = scenario.users_per_day - n_t
    x_c = rng.binomial(n_c, scenario.rate)
    x_t = rng.binomial(n_t, scenario.rate * (1 + lift))
    # Look k (day window + 1 + k) counts the units of days 1 .. k + 1.
    return tuple(np.cumsum(v, axis=1).astype(float) for v in (n_c, x_c, n_t, x_t))


def _stats(n_c: float, x_c: float, n_t: float, x_t: float) -> dict[str, dict[str, float]]:
    return {
        "control": {"units": n_c, "n": n_c, "sum": x_c, "sum2": x_c},
        "treatment": {"units": n_t, "n": n_t, "sum": x_t, "sum2": x_t},
    }


def comparisons_of(
    stats_: dict[str, dict[str, float]], prior: Priors, rng: np.random.Generator
) -> list[Comparison]:
    """The treatment's comparison with the control as ``ab_test.metrics.summarise`` makes it.

    The same two calls on the same draws (``arm_draws``, then ``compare``); the arms' own
    summaries and the traditional test, which the decision does not read, are left out
    (half the time of a look). The tests check the two agree.
    """
    draws, _ = arm_draws(METRIC, stats_, prior, DRAWS, rng)
    seen = observed(METRIC, stats_["control"])
    return [compare(METRIC, draws, "control", "treatment", CI_PROB, None, seen)]


def simulate(
    scenario: Scenario,
    rules: list[Rule],
    lift: float,
    experiments: int,
    seed: int,
    screen: bool = True,
) -> Run:
    """Simulate ``experiments`` experiments and read every look with every rule.

    Parameters
    ----------
    scenario
        The experiments' shape.
    rules
        The rules to apply (they share the data and, with the same prior, the readouts).
    lift
        The treatment's true relative lift (0: an A/A test; negative: harm).
    experiments
        How many experiments.
    seed
        The seed of the data and of every look's posterior draws.
    screen
        Leave out the looks no rule can decide at (see the module's docstring); ``False``
        reads every look through the readout's code.

    Returns
    -------
    Run
        Each rule's first crossing look per experiment, how many looks were read through the
        readout's code, and per rule the smallest margin (exact chance above the threshold,
        in Monte Carlo standard errors) of a look that crossed.
    """
    started = time.perf_counter()
    rng = np.random.default_rng([seed, experiments, round(abs(lift) * 1e6), lift < 0])
    n_c, x_c, n_t, x_t = _data(scenario, lift, experiments, rng)
    k = scenario.looks
    crossed = {r.name: np.full(experiments, -1) for r in rules}
    closest = {r.name: np.inf for r in rules}
    groups: dict[float | None, list[Rule]] = {}
    for r in rules:
        groups.setdefault(r.prior_sd, []).append(r)
    calls = 0
    decisions: dict[float, Decision] = {}
    for prior_sd, members in groups.items():
        priors = _priors(scenario, prior_sd, n_c, x_c, n_t, x_t)
        exact = prob_beta_greater(
            priors["a"] + x_t, priors["b"] + n_t - x_t, priors["a"] + x_c, priors["b"] + n_c - x_c
        )
        for look in range(k):
            wanted = np.zeros(experiments, dtype=bool)
            for r in members:
                needed = r.needed[look]
                if np.isnan(needed):
                    continue
                p = exact[:, look] if r.side == "win" else 1 - exact[:, look]
                reach = p + SCREEN_SD * np.sqrt(p * (1 - p) / DRAWS) + 1e-9 >= needed
                wanted |= (crossed[r.name] < 0) & (reach if screen else True)
            for e in np.flatnonzero(wanted):
                stats_ = _stats(n_c[e, look], x_c[e, look], n_t[e, look], x_t[e, look])
                prior = (
                    Priors()
                    if prior_sd is None
                    else sceptical(METRIC, stats_, ARMS, prior_sd / np.sqrt(2))
                )
                look_rng = np.random.default_rng([seed, e, look, int(1e6 * (prior_sd or 0))])
                comparisons = comparisons_of(stats_, prior, look_rng)
                calls += 1
                for r in members:
                    needed = r.needed[look]
                    if np.isnan(needed) or crossed[r.name][e] >= 0:
                        continue
                    if r.side == "win":
                        decision = decisions.setdefault(needed, Decision(min_prob_better=needed))
                        hit = decide_comparisons(comparisons, decision).verdict == "ship"
                        p = exact[e, look]
                    else:
                        numbers = {
                            "harm": {"evidence_needed": needed},
                            "fixed_threshold": scenario.min_prob_better,
                        }
                        status = sequential.guardrail_status(comparisons[0].prob_harm, numbers)
                        hit = status == "harm"
                        p = 1 - exact[e, look]
                    if hit:
                        crossed[r.name][e] = look
                        sd = max(np.sqrt(p * (1 - p) / DRAWS), 1e-12)
                        closest[r.name] = min(closest[r.name], (p - needed) / sd)
    return Run(
        scenario,
        lift,
        experiments,
        crossed,
        calls,
        experiments * k * len(groups),
        time.perf_counter() - started,
        closest,
    )


def _priors(scenario, prior_sd, n_c, x_c, n_t, x_t) -> dict[str, np.ndarray]:
    """Each look's Beta prior (the same for both arms): flat, or the readout's sceptical one."""
    if prior_sd is None:
        return {"a": np.ones_like(n_c), "b": np.ones_like(n_c)}
    a, b = np.empty_like(n_c), np.empty_like(n_c)
    for e, look in np.ndindex(n_c.shape):
        stats_ = _stats(n_c[e, look], x_c[e, look], n_t[e, look], x_t[e, look])
        p = sceptical(METRIC, stats_, ARMS, prior_sd / np.sqrt(2))
        a[e, look], b[e, look] = p.alpha, p.beta
    return {"a": a, "b": b}


# --------------------------------------------------------------------------- measures


def measured(run: Run, rule: Rule) -> dict[str, float]:
    """A rule's crossing rate (with its Monte Carlo standard error) and mean day of crossing."""
    looks = run.crossed[rule.name]
    hit = looks >= 0
    rate = float(hit.mean())
    days = run.scenario.days[looks[hit]]
    return {
        "rate": rate,
        "se": float(np.sqrt(rate * (1 - rate) / run.experiments)),
        "day": float(days.mean()) if hit.any() else float("nan"),
    }


def paired_difference(run: Run, rule: Rule, reference: Rule) -> dict[str, float]:
    """The difference of two rules' crossing rates on the same experiments, with its error."""
    d = (run.crossed[rule.name] >= 0).astype(float) - (run.crossed[reference.name] >= 0)
    return {"difference": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(len(d)))}


def exact(scenario: Scenario, rule: Rule, lift: float) -> dict[str, float]:
    """A rule's crossing rate and mean day of crossing for a normal approximation, exactly."""
    drift = scenario.drift(lift) * (1 if rule.side == "win" else -1)
    c = sequential.crossing_probabilities(np.array(rule.bounds), scenario.fractions, drift)
    total = float(c.sum())
    return {"rate": total, "day": float((c * scenario.days).sum() / total) if total else np.nan}


def table(
    scenario: Scenario,
    experiments: int,
    effect_experiments: int,
    seed: int = 20261121,
    powers: tuple[float, ...] = (0.5, 0.8, 0.95),
    harm: bool = True,
) -> list[dict[str, Any]]:
    """Every rule's measured and exact false-ship rate, power and mean day to ship (rows)."""
    rules = candidates(scenario)
    rows: list[dict[str, Any]] = []
    runs = {0.0: simulate(scenario, rules, 0.0, experiments, seed)}
    for power in powers if effect_experiments else ():
        lift = scenario.lift_for(power)
        runs[lift] = simulate(scenario, rules, lift, effect_experiments, seed)
    for rule in rules:
        row: dict[str, Any] = {"rule": rule.name, "side": "win", "note": rule.note}
        for lift, run in runs.items():
            row[lift] = {"measured": measured(run, rule), "exact": exact(scenario, rule, lift)}
        rows.append(row)
    if harm:
        harm_rules = harm_candidates(scenario)
        lift = scenario.lift_for(0.8)
        harm_runs = {0.0: simulate(scenario, harm_rules, 0.0, experiments, seed + 1)}
        for size in (-lift, -2 * lift) if effect_experiments else ():
            harm_runs[size] = simulate(scenario, harm_rules, size, effect_experiments, seed + 1)
        for rule in harm_rules:
            row = {"rule": rule.name, "side": "harm", "note": rule.note}
            for size, run in harm_runs.items():
                row[size] = {
                    "measured": measured(run, rule),
                    "exact": exact(scenario, rule, size),
                }
            rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]], scenario: Scenario) -> str:
    """The rows as a text table: measured (exact) rate and mean day per effect."""
    lines = []
    for side in ("win", "harm"):
        part = [r for r in rows if r["side"] == side]
        if not part:
            continue
        effects = [key for key in part[0] if isinstance(key, float)]
        head = f"{'rule':<40}" + "".join(
            f" {('A/A' if e == 0 else f'{e:+.1%}'):>24}" for e in effects
        )
        lines += [head, "-" * len(head)]
        for r in part:
            cells = []
            for e in effects:
                m, x = r[e]["measured"], r[e]["exact"]
                day = "" if np.isnan(m["day"]) else f" d{m['day']:.1f}"
                cells.append(f" {m['rate']:>6.1%}±{m['se']:.1%} ({x['rate']:.1%}){day:>6}")
            lines.append(f"{r['rule']:<40}" + "".join(f"{c:>25}" for c in cells))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Print the measured table: ``--experiments N`` A/A tests, ``--effects M`` per effect."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=4000)
    parser.add_argument("--effects", type=int, default=1000)
    parser.add_argument("--users-per-day", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args(argv)
    scenario = Scenario(users_per_day=args.users_per_day)
    started = time.perf_counter()
    rows = table(scenario, args.experiments, args.effects, args.seed)
    print(
        f"{args.experiments} A/A and {args.effects} experiments per effect; {scenario}; "
        f"measured ± its Monte Carlo error (exact, normal approximation), d: mean day of "
        f"the first crossing; {time.perf_counter() - started:.0f} s"
    )
    print(format_table(rows, scenario))


if __name__ == "__main__":
    main(sys.argv[1:])
