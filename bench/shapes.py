"""Speed on many data shapes, not one: the slowest shape of each workload beside its target.

A target met only on the demo's data is not met. Each workload is run as a user runs it (a
config beside generated data in a new folder, ``readout run --force``, a fresh process;
wall seconds and peak resident memory of the largest process) on several shapes:

- hierarchical, pre-summarised units: 1, 20 or 1,000 groups; units of different sizes
  (users per unit) and standard errors spread over 1x, 13x or 100x; several seeds;
  100,000 units (and 1,000,000 with ``--million``);
- mixture: 200,000 values, components ``[1, 2]``, on ``data/mixture_shapes.py``'s shapes
  and several seeds.

``python bench/shapes.py [--quick] [--million] [--compare DIR]``; ``make bench`` prints the
same table (``QUICK=1``: one seed and three shapes per workload; ``MILLION=1``: the 1,000,000
units). ``--compare DIR`` runs every shape with the code in ``DIR`` too (another checkout,
e.g. ``git worktree add /tmp/before main``; the same environment), right after this code's
run: on a busy host a before/after comparison is only fair run side by side.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from run import READOUT, WORK, Measure, _shapes_module, measure  # noqa: E402

from tests.programme_config import pooling_experiment  # noqa: E402

#: The code benched: (label, command, environment); ``--compare DIR`` adds another.
Code = tuple[str, list[str], dict | None]

MIXTURE_CONFIG = """
[[experiments]]
name = "values"
title = "{n:,} values"
analysis = "mixture"
data = "values.csv"
value = "value"
components = [1, 2]
"""


@dataclass(frozen=True)
class PoolingShape:
    """Pre-summarised units: groups, the smallest unit's users and the spread of the SEs.

    Users per unit are log-uniform from ``users`` to ``users * spread**2``, so standard
    errors (``2 * 2.3 / sqrt(users)``) span ``spread`` times; ``spread = 1``: every unit
    the same size.
    """

    groups: int
    users: int
    spread: float

    @property
    def label(self) -> str:
        """How the table names the shape."""
        return f"{self.groups} groups, {self.users}+ users, SE {self.spread:g}x"


#: Quick runs the first three (the group counts); a full run every one, on every seed.
POOLING_SHAPES = [
    PoolingShape(20, 30, 13),  # the shape: creators in genres
    PoolingShape(1, 30, 13),
    PoolingShape(1000, 30, 13),
    PoolingShape(20, 1000, 1),  # equal SEs
    PoolingShape(20, 10, 100),  # SEs over a hundredfold range
    PoolingShape(20, 3, 13),  # small units: most of the spread is noise, strong pooling
    PoolingShape(20, 20_000, 13),  # large units: little pooling
]
MIXTURE_SHAPES = ["three-groups", "far-small", "redundant"]
SEEDS = (1, 2, 3)


def pooling_data(folder: Path, n: int, shape: PoolingShape, seed: int) -> None:
    """Units with effects sd 0.4 around group means sd 0.3 (as the demo's creators)."""
    import pandas as pd

    rng = np.random.default_rng([n, shape.groups, shape.users, int(shape.spread), seed])
    group = rng.integers(0, shape.groups, n)
    group_mean = rng.normal(0.3, 0.3, shape.groups)
    high = shape.users * shape.spread**2
    users = np.exp(rng.uniform(np.log(shape.users), np.log(high), n)).round().astype(int)
    se = 2 * 2.3 / np.sqrt(users)
    effect = group_mean[group] + 0.4 * rng.standard_normal(n)
    pd.DataFrame(
        {
            "creator": np.char.add("c", np.arange(n).astype(str)),
            "genre": np.char.add("g", group.astype(str)),
            "users": users,
            "estimate": effect + se * rng.standard_normal(n),
            "std_error": se,
        }
    ).to_csv(folder / "units.csv", index=False)
    title = f"{n:,} units in {shape.groups:,} groups"
    (folder / "experiments.toml").write_text(
        pooling_experiment("units", title, "units.csv", grouped=shape.groups > 1)
    )


def mixture_data(folder: Path, n: int, shape: str, seed: int) -> None:
    """``n`` values of one of ``data/mixture_shapes.py``'s shapes."""
    import pandas as pd

    values = _shapes_module().values(shape, n, seed)
    pd.DataFrame({"value": values.round(6)}).to_csv(folder / "values.csv", index=False)
    (folder / "experiments.toml").write_text(MIXTURE_CONFIG.format(n=n))


@dataclass
class Workload:
    """One workload: every shape's measure for each code, and its target (seconds, MB)."""

    label: str
    target_s: float
    target_mb: float
    runs: list[tuple[str, dict[str, Measure]]]

    def slowest(self, code: str) -> tuple[str, Measure]:
        """The slowest shape for ``code`` (a failed run counts as slowest)."""
        shape, found = max(
            self.runs, key=lambda r: r[1][code].seconds + 1e6 * (r[1][code].code != 0)
        )
        return shape, found[code]


def _run(folder: Path, make, codes: list[Code]) -> dict[str, Measure]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    make(folder)
    out = {}
    for label, command, env in codes:
        out[label] = measure([*command, "run", "--force"], env=env, cwd=folder)
        shutil.rmtree(folder / "reports", ignore_errors=True)
    return out


def codes_of(compare: str | None) -> list[Code]:
    """The code to bench: this checkout's ``readout``, and the one in ``compare``."""
    codes: list[Code] = [("this code", [READOUT], None)]
    if compare:
        env = {**os.environ, "PYTHONPATH": str(Path(compare).resolve())}
        # The program (python -m readout) where that checkout has one, as its command runs.
        program = (Path(compare) / "readout" / "__main__.py").is_file()
        module = "readout" if program else "readout.cli"
        codes.append((f"code in {compare}", [sys.executable, "-m", module], env))
    return codes


def workloads(
    quick: bool, million: bool, codes: list[Code] | None = None, verbose: bool = True
) -> list[Workload]:
    """Run every shape of every workload with every code."""
    codes = codes or codes_of(None)
    seeds = SEEDS[:1] if quick else SEEDS
    pooling = POOLING_SHAPES[:3] if quick else POOLING_SHAPES
    out = []
    sizes = [(100_000, 30, 1024)] + ([(1_000_000, 180, 2048)] if million else [])
    for n, target_s, target_mb in sizes:
        work = Workload(f"hierarchical, {n:,} units", target_s, target_mb, [])
        for shape in pooling:
            for seed in seeds:
                folder = WORK / "shapes" / f"pooling-{n}"
                make = lambda f, s=shape, d=seed, n=n: pooling_data(f, n, s, d)  # noqa: E731
                work.runs.append((f"{shape.label}, seed {seed}", _run(folder, make, codes)))
                if verbose:
                    _progress(work.label, work.runs[-1])
        out.append(work)
    n = 200_000
    work = Workload(f"mixture, {n:,} values, K = 1, 2", 30, 2048, [])
    for shape in MIXTURE_SHAPES[:1] if quick else MIXTURE_SHAPES:
        for seed in seeds:
            folder = WORK / "shapes" / f"mixture-{n}"
            make = lambda f, s=shape, d=seed: mixture_data(f, n, s, d)  # noqa: E731
            work.runs.append((f"{shape}, seed {seed}", _run(folder, make, codes)))
            if verbose:
                _progress(work.label, work.runs[-1])
    out.append(work)
    return out


def _progress(label: str, run: tuple[str, dict[str, Measure]]) -> None:
    shape, measures = run
    for code, m in measures.items():
        failed = "" if m.code == 0 else f" FAILED (exit {m.code})"
        print(
            f"  {label}: {shape} [{code}]: {m.seconds:.1f} s ({m.cpu:.1f} s CPU), "
            f"{m.peak_mb:.0f} MB{failed}",
            flush=True,
        )


def print_shapes(rows: list[Workload]) -> None:
    """The slowest shape of each workload beside its target (each code's, if compared)."""
    head = (
        f"{'workload (shapes tried)':<38} {'code':<16} {'slowest shape':<40} {'s':>7} "
        f"{'CPU s':>6} {'MB':>5} {'target':>16}  met"
    )
    print(head)
    print("-" * len(head))
    for w in rows:
        for code in w.runs[0][1]:
            shape, m = w.slowest(code)
            ok = m.code == 0 and m.seconds <= w.target_s and m.peak_mb <= w.target_mb
            text = f"{m.seconds:.1f}" + ("" if m.code == 0 else " FAIL")
            target = f"< {w.target_s:g} s, {w.target_mb / 1024:g} GB"
            label = f"{w.label} ({len(w.runs)})"
            print(
                f"{label:<38} {code[:16]:<16} {shape:<40} {text:>7} {m.cpu:>6.1f} "
                f"{m.peak_mb:>5.0f} {target:>16}  {'yes' if ok else 'NO'}"
            )
    print(
        "each shape: a config beside generated data in a new folder, `readout run --force`, "
        "the whole process; wall s, CPU s (user + system) and peak MB of the slowest shape "
        "(a failed run counts as slowest)."
    )


def main() -> None:
    """Run the shapes and print the table."""
    quick, million = "--quick" in sys.argv, "--million" in sys.argv
    compare = sys.argv[sys.argv.index("--compare") + 1] if "--compare" in sys.argv else None
    print_shapes(workloads(quick, million, codes_of(compare)))


if __name__ == "__main__":
    main()
