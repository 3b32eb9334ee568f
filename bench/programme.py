"""The measurements behind ``analyses/core/programme/``, as the tables of docs/programme.md.

``python bench/programme.py families``  the family, chosen on simulated programmes
``python bench/programme.py minimum``   how many experiments before the learned prior helps
``python bench/programme.py daily``     the false-ship rate over daily looks, alone and with it
``python bench/programme.py speed``     seconds to fit and summarise 10 to 1,000 experiments

Simulated programmes: true lifts (``z = log(1 + lift)``) from a fat-tailed population (the
truths below), each experiment's SE log-uniform between 0.5% and 3% (a realistic range for
relative lifts of online experiments), its estimate normal around its true lift. The alone
readout is the estimate with a flat prior: mean ``exp(y + s^2/2) - 1``, 94% interval
``exp(y -/+ 1.881 s) - 1``, "ship" when ``P(lift > 0) >= 0.97`` and the interval is above
zero. ``--quick`` runs fewer programmes (larger Monte Carlo error); ``--truth=NAME`` only the
truths named.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyses.core import programme as pg  # noqa: E402

#: The default decision rule: P(better) >= 0.97 and the 94% HDI above zero.
SHIP = 0.97
Z_SHIP = 1.8807936081512509  # ndtri(0.97)
SE_RANGE = (0.005, 0.03)


def _mixture(rng, n, shares, means, sds):
    k = rng.choice(len(shares), size=n, p=shares)
    return np.asarray(means)[k] + np.asarray(sds)[k] * rng.standard_normal(n)


#: True-lift populations (log scale), fat-tailed but one (the plain normal).
TRUTHS = {
    "t, 3 df": lambda rng, n: 0.002 + 0.01 * rng.standard_t(3, n),
    "two normals": lambda rng, n: _mixture(rng, n, [0.8, 0.2], [0.001, 0.004], [0.005, 0.03]),
    "spike and slab": lambda rng, n: _mixture(rng, n, [0.7, 0.3], [0.0, 0.003], [0.0005, 0.03]),
    "skewed wins": lambda rng, n: _mixture(rng, n, [0.85, 0.15], [-0.001, 0.03], [0.006, 0.02]),
    "normal": lambda rng, n: 0.002 + 0.01 * rng.standard_normal(n),
}


def programme(truth: str, n: int, rng: np.random.Generator):
    """True lifts, estimates and SEs (log scale) of one simulated programme."""
    z = TRUTHS[truth](rng, n)
    s = np.exp(rng.uniform(*np.log(SE_RANGE), n))
    return z, z + s * rng.standard_normal(n), s


def alone(y: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    """The experiment-alone readout of estimates (flat prior on the log scale)."""
    return {
        "mean": np.expm1(y + s**2 / 2),
        "hdi": np.expm1(np.stack([y - Z_SHIP * s, y + Z_SHIP * s], axis=1)),
        "ship": y / s >= Z_SHIP,
    }


class Tally:
    """Running sums over simulated experiments."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, values: np.ndarray) -> None:
        """Add values to a named sum."""
        values = np.asarray(values, dtype=float)
        self.sums[name] = self.sums.get(name, 0.0) + float(values.sum())
        self.counts[name] = self.counts.get(name, 0) + int(values.size)

    def mean(self, name: str) -> float:
        """The mean of a named sum's values."""
        return self.sums[name] / self.counts[name] if self.counts.get(name) else float("nan")


def measure(truth: str, n: int, family: str, reps: int, seed: int) -> Tally:
    """Fit ``reps`` simulated programmes of ``n`` experiments; tally errors and coverage."""
    rng = np.random.default_rng(seed)
    tally = Tally()
    for r in range(reps):
        z, y, s = programme(truth, n, rng)
        lift = np.expm1(z)
        started = time.perf_counter()
        fit = pg.fit(y, s, family_name=family)
        post = fit.posteriors(seed=seed + r)
        tally.add("seconds", np.array([time.perf_counter() - started]))
        own = alone(y, s)
        big = np.abs(z - np.median(z)) >= np.quantile(np.abs(z - np.median(z)), 0.9)
        for name, est in (("prog", post), ("alone", own)):
            covered = (est["hdi"][:, 0] <= lift) & (lift <= est["hdi"][:, 1])
            tally.add(f"se_{name}", (est["mean"] - lift) ** 2)
            tally.add(f"cover_{name}", covered)
            tally.add(f"cover_big_{name}", covered[big])
            tally.add(f"width_{name}", est["hdi"][:, 1] - est["hdi"][:, 0])
        ship = own["ship"]
        tally.add("win_true", lift[ship])
        tally.add("win_alone", own["mean"][ship])
        tally.add("win_prog", post["mean"][ship])
        prog_ship = (post["prob_better"] >= SHIP) & (post["hdi"][:, 0] > 0)
        tally.add("ship_alone_wrong", lift[ship] <= 0)
        tally.add("ship_prog_wrong", lift[prog_ship] <= 0)
        tally.add("ship_alone", ship)
        tally.add("ship_prog", prog_ship)
        if n >= 3:
            check = pg.loo_check(fit)
            tally.add("elpd", check["elpd_i"])
            tally.add("loo_held", np.array([check["held"] / check["experiments"]]))
    return tally


def _row(cells: list[str], widths: list[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


def print_table(head: list[str], rows: list[list[str]]) -> None:
    """A Markdown table."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(_row(head, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(_row(r, widths))
    print(flush=True)


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


#: The tables' measured columns: how each is read off a tally.
COLUMNS = {
    "MSE vs alone": lambda t: f"{t.mean('se_prog') / t.mean('se_alone'):.2f}",
    "coverage": lambda t: _pct(t.mean("cover_prog")),
    "coverage, top 10%": lambda t: _pct(t.mean("cover_big_prog")),
    "alone coverage, top 10%": lambda t: _pct(t.mean("cover_big_alone")),
    "winners: true": lambda t: _pct(t.mean("win_true")),
    "alone": lambda t: _pct(t.mean("win_alone")),
    "programme": lambda t: _pct(t.mean("win_prog")),
    "LOO log density": lambda t: f"{t.mean('elpd'):.3f}",
    "s per fit": lambda t: f"{t.mean('seconds'):.3f}",
}


def _cells(tally: Tally, columns: list[str]) -> list[str]:
    return [COLUMNS[c](tally) for c in columns]


def _reps(n: int, quick: bool) -> int:
    experiments = 800 if quick else 3000
    return max(2, experiments // n)


def families(quick: bool) -> None:
    """Each family on each truth: error, coverage, the winners, predictive accuracy."""
    sizes = (10, 30, 100, 500)
    head = [
        "truth",
        "n",
        "family",
        "MSE vs alone",
        "coverage",
        "coverage, top 10%",
        "winners: true",
        "alone",
        "programme",
        "LOO log density",
        "s per fit",
    ]
    rows = []
    for truth in TRUTHS:
        for n in sizes:
            for family in pg.FAMILIES:
                if family == "two_normal" and n > 100 and quick:
                    continue
                t = measure(truth, n, family, _reps(n, quick), seed=1000 + n)
                rows.append([truth, str(n), family, *_cells(t, head[3:])])
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(head, rows)


def minimum(quick: bool) -> None:
    """Small programmes: the learned prior (Student-t) against the alone estimates."""
    sizes = (3, 5, 8, 10, 15, 20, 30, 50)
    head = [
        "truth",
        "n",
        "MSE vs alone",
        "coverage",
        "coverage, top 10%",
        "alone coverage, top 10%",
        "winners: true",
        "alone",
        "programme",
    ]
    rows = []
    for truth in TRUTHS:
        for n in sizes:
            t = measure(truth, n, pg.FAMILY, _reps(n, quick), seed=2000 + n)
            rows.append([truth, str(n), *_cells(t, head[2:])])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(head, rows)


# --------------------------------------------------------------------------- daily looks

#: Issue 21's setting: 28 days, a 10% conversion rate, 1,200 users a day split evenly; and a
#: busier site (24,000 a day) whose 28-day SEs (about 0.7%) are those of the past programme.
DAYS, RATE = 28, 0.10
TRAFFIC = (1200, 24000)


def _daily_estimates(lift: np.ndarray, users_per_day: int, rng: np.random.Generator):
    """Cumulative log-ratio estimates and SEs on each day for experiments with these lifts."""
    n = lift.size
    per_arm = users_per_day // 2
    conv_c = rng.binomial(per_arm, RATE, (DAYS, n)).cumsum(axis=0)
    conv_t = rng.binomial(per_arm, np.minimum(RATE * (1 + lift), 1), (DAYS, n)).cumsum(axis=0)
    users = per_arm * np.arange(1, DAYS + 1)[:, None]
    # Beta(1, 1) posteriors of each arm, summarised on the log scale (normal approximation).
    a_c, a_t = conv_c + 1, conv_t + 1
    b_c, b_t = users - conv_c + 1, users - conv_t + 1
    y = np.log(a_t / (a_t + b_t)) - np.log(a_c / (a_c + b_c))
    s = np.sqrt(b_t / (a_t * (a_t + b_t)) + b_c / (a_c * (a_c + b_c)))
    return y, s


def _ship_programme(prior: pg.Mixture, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The default rule on the programme posterior: P(better) >= 0.97 and the HDI above 0."""
    from scipy.special import ndtr

    post = pg.update(pg.Mixture(np.tile(prior.weights, (y.size, 1)), prior.means, prior.sds), y, s)
    better = np.sum(post.weights * ndtr(post.means / post.sds), axis=1)
    ship = better >= SHIP
    if ship.any():  # the HDI's lower end, only where the probability is reached
        for i in np.flatnonzero(ship):
            one = pg.Mixture(post.weights[i], post.means[i], post.sds[i])
            ship[i] = one.lift_hdi()[0] > 0
    return ship


def daily(quick: bool) -> None:
    """The false-ship rate over daily looks with the alone and the programme posterior.

    A learned prior from a realistic past programme (60 finished experiments whose true lifts
    come from the truth, SEs 0.5% to 3%; the bundle's prior), then new experiments looked at
    every day for 28 days: A/A experiments (lift exactly 0) and experiments whose lifts come
    from the same population. Counted: the share shipped at some look (A/A: the false-ship
    rate), the share of ships whose true lift is at most 0 (and how many ships), and the share
    of experiments with a true lift above 1% shipped (power), for a single look on day 28 and
    for daily looks (shipping at the first look that says so).
    """
    experiments = 1000 if quick else 4000
    head = [
        "truth",
        "users a day",
        "posterior",
        "A/A ship, day 28",
        "A/A ship, daily",
        "wrong ships, day 28",
        "wrong ships, daily",
        "lift > 1% shipped, day 28",
        "lift > 1%, daily",
    ]
    rows = []
    rng = np.random.default_rng(3000)
    for truth in ("t, 3 df", "spike and slab", "skewed wins"):
        _, y_past, s_past = programme(truth, 60, rng)
        learned = pg.fit(y_past, s_past).prior()
        for traffic in TRAFFIC:
            counts: dict[str, dict[str, str]] = {"alone": {}, "programme": {}}
            for kind in ("aa", "programme"):
                if kind == "aa":
                    lift = np.zeros(experiments)
                else:
                    lift = np.expm1(TRUTHS[truth](rng, experiments))
                y, s = _daily_estimates(lift, traffic, rng)
                for name, c in counts.items():
                    shipped = np.zeros((DAYS, experiments), bool)
                    for day in range(DAYS):
                        if name == "alone":
                            shipped[day] = y[day] / s[day] >= Z_SHIP
                        else:
                            shipped[day] = _ship_programme(learned, y[day], s[day])
                    daily_ship, last = shipped.any(axis=0), shipped[-1]
                    if kind == "aa":
                        c["aa_last"], c["aa_any"] = _pct(last.mean()), _pct(daily_ship.mean())
                        continue
                    bad, good = lift <= 0, lift > 0.01
                    for key, ship in (("last", last), ("any", daily_ship)):
                        wrong = (ship & bad).sum() / max(ship.sum(), 1)
                        c[f"wrong_{key}"] = f"{_pct(wrong)} of {ship.sum()}"
                        c[f"power_{key}"] = _pct(ship[good].mean())
            for name, c in counts.items():
                rows.append(
                    [truth, f"{traffic:,}", name]
                    + [
                        c[k]
                        for k in (
                            "aa_last",
                            "aa_any",
                            "wrong_last",
                            "wrong_any",
                            "power_last",
                            "power_any",
                        )
                    ]
                )
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(head, rows)


def speed(quick: bool) -> None:
    """Seconds to fit, to summarise every experiment and to check the prior by LOO."""
    head = ["experiments", "fit + learned prior s", "every experiment's posterior s", "LOO s"]
    rows = []
    rng = np.random.default_rng(4000)
    for n in (10, 100, 300, 1000):
        _, y, s = programme("t, 3 df", n, rng)
        pg.fit(y[:5], s[:5])
        started = time.perf_counter()
        fit = pg.fit(y, s)
        fit.learned_prior()
        fitted = time.perf_counter()
        fit.posteriors()
        summarised = time.perf_counter()
        pg.loo_check(fit)
        checked = time.perf_counter()
        rows.append(
            [
                str(n),
                f"{fitted - started:.2f}",
                f"{summarised - fitted:.2f}",
                f"{checked - summarised:.2f}",
            ]
        )
    print_table(head, rows)


def main() -> None:
    """Run the measurement named on the command line (``--truth=NAME``: only those truths)."""
    what = [a for a in sys.argv[1:] if not a.startswith("--")]
    quick = "--quick" in sys.argv
    chosen = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--truth=")]
    for name in list(TRUTHS) if chosen else []:
        if name not in chosen:
            del TRUTHS[name]
    jobs = {"families": families, "minimum": minimum, "daily": daily, "speed": speed}
    for name in what or ["speed"]:
        jobs[name](quick)


if __name__ == "__main__":
    main()
