"""A programme morning: ``readout run -j 2`` over N warehouse experiments x 3 metrics.

Issue 25's anchor: 60 warehouse experiments x 3 metrics took 128 s at ``-j 2`` (2.1 s a
readout); the target is 200 experiments in 150 s and 500 in 5 minutes.

Each size is generated afresh into a DuckDB warehouse (``bench-results/programme-run/N/``):
N experiments, each its own users (2,000 to 12,000, both arms), a purchase rate of 4% to 15%
with a true lift drawn from a fat-tailed programme (Student-t, 3 df, scale 5%), a revenue per
user and a number of visits per user; three metrics an experiment (``purchase``, binary and
primary; ``revenue``; ``visits``, a count), read in 14-day windows from three event tables
(``exposures``, ``orders``, ``visits``). A ``[programme] history`` of 40 past conversion
tests is beside it, so the learned prior reads every readout (as in the demo). The run is
``readout run -j 2 --as-of 2026-11-30`` in a fresh process on an empty output folder: every
experiment queried, fitted, written and rendered (HTML and PDF), the programme applied, the
site written. Then the next morning, as a programme is read every day: ``--as-of
2026-12-01`` on the same output, every experiment read and fitted again and the site written
with two readouts each (their history rows and charts).

``python bench/programme_run.py [SIZES ...] [--compare DIR]``: sizes default to 60 and 200
(``READOUT_BENCH_500=1`` adds 500); ``--compare DIR`` runs every size with the code in
``DIR`` too (another checkout; the same environment), right after this code's run, the only
fair before/after on a shared host. ``make bench`` prints this table; ``make
bench-programme`` prints it alone.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from run import WORK, Measure, measure  # noqa: E402
from shapes import Code, codes_of  # noqa: E402

from tests import programme_config as pc  # noqa: E402

AS_OF = "2026-11-30"
#: The next morning: every experiment read again (a readout a day), the site with two each.
NEXT_DAY = "2026-12-01"
JOBS = 2
#: Issue 25's targets: (experiments, seconds).
TARGETS = {60: None, 200: 150.0, 500: 300.0}
#: Issue 25's measurement before round two: 60 experiments, 128 s.
ANCHOR = {60: 128.0}

#: The programme table of every size: a learned prior that decides, from 40 past tests.
PROGRAMME = 'prior = "learned"\ndecide_with = "programme"\nhistory = "history.csv"'
#: Each experiment's three metrics (the revenue in dollars).
METRICS = (pc.PURCHASE, pc.REVENUE + 'value_prefix = "$"\n', pc.VISITS)


def _times(rng: np.random.Generator, base: np.ndarray, days: float) -> np.ndarray:
    return base + (rng.uniform(0, days, base.size) * 86400).astype("timedelta64[s]")


def generate(folder: Path, n: int, seed: int = 25) -> dict[str, float]:
    """Write the warehouse, the history and the config of ``n`` experiments into ``folder``.

    Returns each experiment's true purchase lift.
    """
    import duckdb
    import pandas as pd

    rng = np.random.default_rng([seed, n])
    start = np.datetime64("2026-11-01T00:00:00")
    exposures, orders, visits, truth = [], [], [], {}
    first = 0
    for i in range(n):
        name = f"exp-{i + 1:03d}"
        users = int(rng.integers(1_000, 6_000)) * 2
        ids = np.arange(first, first + users)
        first += users
        arm = rng.integers(0, 2, users)
        exposed = _times(rng, np.full(users, start), 14)
        lift = float(np.expm1(0.05 * rng.standard_t(3)))
        base = rng.uniform(0.04, 0.15)
        truth[name] = lift
        exposures.append(
            pd.DataFrame(
                {
                    "experiment": name,
                    "user_id": ids,
                    "variant": np.where(arm == 1, "treatment", "control"),
                    "exposed_at": exposed,
                }
            )
        )
        rate = np.clip(np.where(arm == 1, base * (1 + lift), base), 0, 1)
        buys = rng.random(users) < rate
        orders.append(
            pd.DataFrame(
                {
                    "user_id": ids[buys],
                    "ts": _times(rng, exposed[buys], 13.9),
                    "amount": np.round(rng.lognormal(3.6, 0.7, buys.sum()), 2),
                }
            )
        )
        count = rng.poisson(2.0, users)
        who = np.repeat(np.arange(users), count)
        visits.append(pd.DataFrame({"user_id": ids[who], "ts": _times(rng, exposed[who], 13.9)}))
    path = folder / "warehouse.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        for table, parts in (("exposures", exposures), ("orders", orders), ("visits", visits)):
            frame = pd.concat(parts, ignore_index=True)  # noqa: F841 - read by DuckDB
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
    finally:
        con.close()
    past = np.expm1(0.05 * rng.standard_t(3, 40))
    se = np.exp(rng.uniform(np.log(0.01), np.log(0.04), 40))
    pd.DataFrame(
        {
            "experiment": [f"past-{i + 1:02d}" for i in range(40)],
            "title": [f"Past test {i + 1}" for i in range(40)],
            "ended": "2026-01-01",
            "kind": "binary",
            "lift": np.round(past + se * rng.standard_normal(40), 6),
            "se": np.round(se, 6),
        }
    ).to_csv(folder / "history.csv", index=False)
    experiments = (
        pc.warehouse_experiment(f"exp-{i + 1:03d}", *METRICS, title=f"Experiment {i + 1}")
        for i in range(n)
    )
    text = pc.config(
        *experiments,
        settings="seed = 20261205",
        programme=PROGRAMME,
        url="duckdb://warehouse.duckdb",
        dialect="duckdb",
    )
    (folder / "experiments.toml").write_text(text)
    return truth


def run_size(n: int, codes: list[Code]) -> dict[str, Measure]:
    """Generate ``n`` experiments once and time each code's whole ``readout run -j 2``."""
    folder = WORK / "programme-run" / str(n)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    generate(folder, n)
    out = {}
    for label, command, env in codes:
        shutil.rmtree(folder / "reports", ignore_errors=True)
        for day, morning in ((AS_OF, label), (NEXT_DAY, f"{label}, next morning")):
            args = ["run", "-j", str(JOBS), "--as-of", day, "--output", "reports"]
            out[morning] = m = measure([*command, *args], env=env, cwd=folder)
            failed = "" if m.code == 0 else f" FAILED (exit {m.code})"
            print(
                f"  {n} experiments [{morning}]: {m.seconds:.1f} s ({m.cpu:.1f} s CPU), "
                f"{m.peak_mb:.0f} MB{failed}",
                flush=True,
            )
    return out


def sizes_of(argv: list[str]) -> list[int]:
    """The sizes named on the command line, else 60 and 200 (and 500 with the env flag)."""
    named = [int(a) for a in argv if a.isdigit()]
    if named:
        return named
    return [60, 200] + ([500] if os.environ.get("READOUT_BENCH_500") == "1" else [])


def print_table(rows: list[tuple[int, dict[str, Measure]]]) -> None:
    """Each size's seconds beside issue 25's anchor and target."""
    head = (
        f"{'experiments x 3 metrics, -j 2':<30} {'code':<34} {'s':>7} {'CPU s':>7} "
        f"{'s a readout':>11} {'MB':>5} {'issue 25':>9} {'target':>8}  met"
    )
    print(head)
    print("-" * len(head))
    for n, measures in rows:
        for code, m in measures.items():
            target = TARGETS.get(n)
            ok = m.code == 0 and (target is None or m.seconds <= target)
            anchor = f"{ANCHOR[n]:.0f} s" if n in ANCHOR else ""
            text = f"{m.seconds:.1f}" + ("" if m.code == 0 else " FAIL")
            print(
                f"{n:<30} {code[:34]:<34} {text:>7} {m.cpu:>7.1f} {m.seconds / n:>11.2f} "
                f"{m.peak_mb:>5.0f} {anchor:>9} {f'{target:g} s' if target else '':>8}  "
                f"{('yes' if ok else 'NO') if target else ''}"
            )
    print(
        "each size: N generated warehouse experiments (DuckDB, 3 metrics each, a learned "
        "programme prior from 40 past tests) in a new folder, `readout run -j 2 --as-of "
        f"{AS_OF}` on an empty output folder, the whole process; then the next morning "
        f"(`--as-of {NEXT_DAY}`: every experiment read again, the site with two readouts "
        "each); wall s, CPU s (user + system, with the workers) and peak MB of the largest "
        "process."
    )


def main() -> None:
    """Run every size and print the table."""
    compare = sys.argv[sys.argv.index("--compare") + 1] if "--compare" in sys.argv else None
    argv = [a for a in sys.argv[1:] if a != compare]
    rows = [(n, run_size(n, codes_of(compare))) for n in sizes_of(argv)]
    print_table(rows)


if __name__ == "__main__":
    main()
