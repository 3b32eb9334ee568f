"""``make bench``: readout beside PyMC's default ``pm.sample()`` and beside the bare query.

Readout is compared with PyMC's default ``pm.sample()`` on the same models, and with the
warehouse engine's own time for the bare aggregate query.

Every measurement runs in a fresh process; its wall time and its peak resident memory (of the
largest process it started, from ``wait4``) are the process's own. Each workload runs once to
warm the caches (PyTensor's and numba's compile caches, kept in the per-user cache folder:
``readout.caches``) and is measured the second time, as a scheduled ``make report`` meets
it: on new data (a bootstrap copy of the rows, drawn afresh in every bench run), since
readout refits only when the data change.

The mixture's shapes (``data/mixture_shapes.py``: a far small component, a redundant one,
the demo's three groups; 1,000 and 200,000 values) run as a user runs them: a config beside
the data in a new folder, several seeds each; the slowest seed is reported, for the first
run in the folder and for a forced re-run.

Table 1, per workload: readout's seconds (whole process; the fit alone in brackets) and peak
MB, PyMC's default ``pm.sample()`` on the same model and data in one process (seconds of
sampling in brackets), and how many times longer PyMC took.

Table 3: a generated warehouse (DuckDB: 10 million assigned units and 50 million events;
PostgreSQL: 1 million units), one experiment with three metrics; readout's whole ``run``
against the engine running the same SQL (the bundle's queries) on its own.

Table 4: the sequential rule's calibration (``analyses/ab_test/sequential_calibration.py``): every
candidate rule read every day on simulated experiments through the readout's decision code.

Table 2 (``bench/shapes.py``): the slowest of many data shapes (group counts, unit sizes,
standard-error spreads, seeds) for 100,000 pre-summarised units (1,000,000 with
``--million``) and a mixture of 200,000 values, beside the targets.

``python bench/run.py --quick`` skips the warm-up and the largest workloads (the 10M-unit
warehouse) and runs fewer shapes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from readout import caches  # noqa: E402  (after the path; before anything imports PyMC)
from tests.programme_config import pooling_experiment  # noqa: E402

caches.configure()
WORK = ROOT / "bench-results"
READOUT = str(ROOT / ".venv" / "bin" / "readout")
CONFIG = ROOT / "experiments.toml"
SEED = 20261201
#: DuckDB's memory limit in the warehouse bench, for readout and the bare query alike.
DUCKDB_MEMORY = "400MB"


# --------------------------------------------------------------------------- measuring


@dataclass
class Measure:
    """One process: wall seconds, peak MB, exit code, the JSON line it printed, CPU seconds.

    CPU seconds (user and system, with the children it waited for) move less than wall
    seconds on a busy host.
    """

    seconds: float
    peak_mb: float
    code: int
    inner: dict
    cpu: float = 0.0


def measure(command: list[str], env: dict | None = None, cwd: Path = ROOT) -> Measure:
    """Run ``command`` in a fresh process: wall seconds, peak MB, exit code, its JSON line."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd, env=env or os.environ
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().strip().splitlines()
    inner = {}
    if lines:
        try:
            inner = json.loads(lines[-1])
        except ValueError:
            inner = {}
    cpu = usage.ru_utime + usage.ru_stime
    return Measure(seconds, usage.ru_maxrss / 1024, process.returncode, inner, cpu)


def child(kind: str, name: str, *extra: str) -> list[str]:
    """The command that runs one of this script's child measurements."""
    return [sys.executable, str(Path(__file__).resolve()), "--child", kind, name, *extra]


def pymc_env() -> dict:
    """PyMC as installed, default settings; its compile caches those readout uses."""
    return dict(os.environ)


# --------------------------------------------------------------------------- children


def _experiment(name: str, config: Path, resample: str = ""):
    """The experiment; with ``resample`` (a seed), its data file replaced by a bootstrap copy.

    A scheduled readout refits only when the data changed, so the measured run reads data
    the caches have not seen: the rows drawn with replacement (same size and columns).
    """
    from dataclasses import replace

    from readout.config import load_config

    loaded = load_config(config)
    experiment = next(e for e in loaded.experiments if e.name == name)
    if not resample or experiment.data_path is None:
        return experiment
    import pandas as pd

    frame = pd.read_csv(experiment.data_path)
    rng = np.random.default_rng(int(resample))
    copy = WORK / "work" / f"{name}-resampled-{resample}.csv"
    frame.iloc[rng.integers(0, len(frame), len(frame))].to_csv(copy, index=False)
    return replace(experiment, data_path=copy)


def _loaded(name: str, config: Path, resample: str = ""):
    """The experiment and its data exactly as readout's fit receives them."""
    from readout import registry
    from readout.data import fetch_data

    experiment = _experiment(name, config, resample)
    analysis = registry.get(experiment.spec.analysis)
    fetched = fetch_data(experiment, None, write_cache=False).fetched
    data, _ = analysis.load(experiment.spec, fetched, experiment.input_paths())
    return experiment, data


def child_readout(name: str, config: str, resample: str = "") -> None:
    """One experiment through readout's own path (fit, figures, bundle, HTML, PDF)."""
    from dataclasses import replace

    from readout import registry, runner

    experiment = _experiment(name, Path(config), resample)
    real = registry.get(experiment.spec.analysis)
    # The libraries every readout loads to draw and print, and those most analyses' fits
    # use: loaded first, so the fit column is the model's own work. PyMC's import, which
    # only sampled models need, stays in it.
    runner._prefetch()
    import scipy.special  # noqa: F401
    import xarray  # noqa: F401

    fit_seconds = []

    def timed_fit(*args):
        started = time.perf_counter()
        result = real.fit(*args)
        fit_seconds.append(time.perf_counter() - started)
        return result

    registry._all()[real.name] = replace(real, fit=timed_fit)
    with tempfile.TemporaryDirectory() as out:
        outcome = runner.run_one(experiment, Path(out), "2000-01-01", force=True)
    print(json.dumps({"fit": sum(fit_seconds), "code": outcome.code}))
    sys.exit(outcome.code)


def child_programme(experiments: str) -> None:
    """The programme model on a generated programme of summaries (no data to read).

    True lifts from a t with 3 df, SEs log-uniform from 0.1% to 5% (a wide spread, the slow
    shape); timed: the fit, the learned prior, every experiment given the others and the
    leave-one-out check.
    """
    from analyses.core import programme

    n = int(experiments)
    rng = np.random.default_rng(SEED)
    se = np.exp(rng.uniform(np.log(0.001), np.log(0.05), n))
    y = 0.002 + 0.01 * rng.standard_t(3, n) + se * rng.standard_normal(n)
    started = time.perf_counter()
    fit = programme.fit(y, se)
    fit.learned_prior()
    fit.posteriors()
    programme.loo_check(fit)
    print(json.dumps({"fit": time.perf_counter() - started}))


def child_pymc(name: str, config: str, resample: str = "") -> None:
    """The same model on the same data, sampled by ``pm.sample()`` with its defaults."""
    import pymc as pm

    from analyses import hierarchical, regression
    from analyses.ab_test import models as ab_models
    from analyses.ab_test import robust_model
    from analyses.ab_test.conjugate import NormalPrior
    from analyses.mixture import model as mixture_model

    experiment, data = _loaded(name, Path(config), resample)
    spec = experiment.spec
    models = []
    if spec.analysis == "ab_test" and spec.robust:
        models.append(robust_model(spec, data)[0])
    elif spec.analysis == "ab_test" and spec.warehouse:
        # Revenue per user on rows: each arm's hurdle model (the model readout solves exactly).
        rows = _warehouse_revenue(experiment)
        logs = np.concatenate([np.log(y[y > 0]) for y in rows.values()])
        prior = NormalPrior.scaled(float(logs.mean()), float(logs.std(ddof=1)))
        models += [ab_models.hurdle_model(y, prior) for y in rows.values()]
    elif spec.analysis == "ab_test":
        rows = _raw_rows(experiment)
        kind = data.metrics[0].kind
        if kind == "binary":
            models += [ab_models.beta_model(y, 1.0, 1.0) for y in rows.values()]
        else:
            logs = {arm: np.log(y[y > 0]) for arm, y in rows.items()}
            pooled = np.concatenate(list(logs.values()))
            prior = NormalPrior.scaled(float(pooled.mean()), float(pooled.std(ddof=1)))
            models += [ab_models.normal_model(y, prior) for y in logs.values()]
    elif spec.analysis == "hierarchical":
        from analyses.core import pooling

        groups = sorted(set(data.group))
        prior = pooling.PoolingPrior.scaled(data.estimate, data.se)
        if len(data) > 20_000:
            models.append(_collapsed_model(data, groups, prior))
        else:
            models.append(hierarchical.full_model(spec, data, groups, prior))
    elif spec.analysis == "mixture":
        for k in spec.components:
            # PyMC's default start puts every ordered mean at 0, where the ordered transform
            # is -inf: pm.sample() cannot start. The means start at the data's quantiles, as
            # readout's own fit does; everything else stays at PyMC's defaults.
            start = {"mu": np.quantile(data, (np.arange(k) + 0.5) / k)} if k > 1 else None
            models.append((mixture_model.mixture_model(data, k)[0], start))
    elif spec.analysis == "regression":
        centre, scale = data.x.mean(axis=0), data.x.std(axis=0)
        models.append(regression.model(spec, data, centre, scale)[0])
    sampling = 0.0
    for entry in models:
        model, start = entry if isinstance(entry, tuple) else (entry, None)
        with model:
            started = time.perf_counter()
            pm.sample(random_seed=SEED, progressbar=False, initvals=start)
            sampling += time.perf_counter() - started
    print(json.dumps({"sample": sampling, "models": len(models)}))


def _warehouse_revenue(experiment) -> dict[str, np.ndarray]:
    """Per user of the demo's paywall experiment: the amount paid within 14 days of exposure."""
    import duckdb

    con = duckdb.connect(str(ROOT / "data" / "demo.duckdb"), read_only=True)
    frame = con.execute(
        "SELECT e.variant, e.user_id, coalesce(sum(o.amount), 0) AS amount FROM exposures e "
        "LEFT JOIN orders o ON o.user_id = e.user_id AND o.ts >= e.exposed_at "
        "AND o.ts < e.exposed_at + INTERVAL 14 DAY WHERE e.experiment = 'paywall' "
        "GROUP BY e.variant, e.user_id"
    ).fetchnumpy()
    con.close()
    arms = frame["variant"].astype(str)
    return {arm: frame["amount"][arms == arm].astype(float) for arm in sorted(set(arms))}


def _raw_rows(experiment) -> dict[str, np.ndarray]:
    import pandas as pd

    spec = experiment.spec
    frame = pd.read_csv(experiment.data_path, dtype={spec.group: str})
    return {
        arm: frame.loc[frame[spec.group] == arm, spec.metric].to_numpy(float)
        for arm in dict.fromkeys(frame[spec.group])
    }


def _collapsed_model(units, groups, prior):
    """The pooling model with every unit's effect integrated out (one normal per unit)."""
    import pymc as pm

    g = np.searchsorted(groups, units.group)
    with pm.Model(coords={"group": groups}) as model:
        mu = pm.Normal("mu", prior.mu_mean, prior.mu_sd)
        sigma_unit = pm.HalfNormal("sigma_unit", prior.scale)
        sigma_group = pm.HalfNormal("sigma_group", prior.scale)
        z = pm.Normal("z_group", 0.0, 1.0, dims="group")
        mu_group = mu + sigma_group * z
        spread = pm.math.sqrt(units.se**2 + sigma_unit**2)
        pm.Normal("y", mu_group[g], spread, observed=units.estimate)
    return model


# --------------------------------------------------------------------------- bench data


ROBUST_CONFIG = """
[[experiments]]
name = "income-spend-t"
title = "Annual spend by income group, Student-t"
analysis = "ab_test"
data = "{data}"
group = "income_group"
control = "low"
metric = "annual_spend"
metric_type = "continuous"
log_transform = true
robust = true
observational = true
"""

BAD_CONFIG = """
[[experiments]]
name = "bad"
title = "A column that is not there"
analysis = "ab_test"
data = "{data}"
group = "arm"
control = "A"
metric = "no_such_column"
metric_type = "binary"
"""


def pooling_data(n: int, folder: Path) -> Path:
    """Pre-summarised creators: 20 genres, effects sd 0.4 around genre means."""
    import pandas as pd

    rng = np.random.default_rng(n)
    genre = rng.integers(0, 20, n)
    genre_mean = rng.normal(0.3, 0.3, 20)
    users = np.exp(rng.uniform(np.log(30), np.log(5000), n)).astype(int)
    se = 2 * 2.3 / np.sqrt(users)
    effect = genre_mean[genre] + 0.4 * rng.standard_normal(n)
    pd.DataFrame(
        {
            "creator": [f"c{i:07d}" for i in range(n)],
            "genre": [f"genre-{g:02d}" for g in genre],
            "users": users,
            "estimate": effect + se * rng.standard_normal(n),
            "std_error": se,
        }
    ).to_csv(folder / f"creators-{n}.csv", index=False)
    config = folder / f"creators-{n}.toml"
    config.write_text(
        pooling_experiment(f"creators-{n}", f"{n:,} creators in 20 genres", f"creators-{n}.csv")
    )
    return config


WAREHOUSE_SQL = """
SELECT setseed(0.42);
CREATE TABLE exposures AS
SELECT i AS user_id,
       CASE WHEN hash(i) % 2 = 0 THEN 'control' ELSE 'treatment' END AS variant,
       TIMESTAMP '2026-11-01' + to_seconds(CAST(hash(i + 7) % (14 * 86400) AS BIGINT)) AS exposed_at
FROM range({units}) t(i);
CREATE TABLE events AS
SELECT CAST(floor(random() * {units}) AS BIGINT) AS user_id,
       TIMESTAMP '2026-11-01' + to_seconds(CAST(floor(random() * 28 * 86400) AS BIGINT)) AS ts,
       CASE WHEN random() < 0.08 THEN 'purchase' WHEN random() < 0.02 THEN 'support'
            ELSE 'view' END AS kind,
       round(random() * 80, 2) AS amount
FROM range({events});
"""

WAREHOUSE_CONFIG = """
[settings]
max_rows = 100_000_000

[sources.bench]
url = "{url}"
dialect = "duckdb"

[[experiments]]
name = "bench-{engine}"
title = "{units:,} units, three metrics"
analysis = "ab_test"
source = "bench"
assignments = "SELECT user_id AS unit, variant AS arm, exposed_at{segment_column} FROM exposures"
control = "control"
{segments}

[[experiments.metrics]]
name = "purchase"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM events WHERE kind = 'purchase'"
aggregate = "any"
kind = "binary"
role = "primary"

[[experiments.metrics]]
name = "revenue"
sql = "SELECT user_id AS unit, ts, amount AS value FROM events WHERE kind = 'purchase'"
aggregate = "sum"
kind = "revenue"

[[experiments.metrics]]
name = "support"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM events WHERE kind = 'support'"
aggregate = "count"
kind = "count"
role = "guardrail"
higher_is_better = false
max_harm = 0.05
"""


def warehouse_duckdb(units: int, events: int, folder: Path) -> Path:
    """A DuckDB file with ``units`` assigned units and ``events`` events (made once, kept)."""
    import duckdb

    path = folder / f"warehouse-{units}.duckdb"
    if path.is_file():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    con = duckdb.connect(str(partial))
    con.execute(WAREHOUSE_SQL.format(units=units, events=events))
    con.close()
    partial.replace(path)
    return path


# --------------------------------------------------------------------------- tables


@dataclass
class Row:
    """One line of the first table."""

    workload: str
    readout: Measure
    pymc: Measure | None
    target: str


def _seconds(m: Measure, key: str) -> str:
    inner = m.inner.get(key)
    text = f"{m.seconds:.2f}" if m.seconds < 10 else f"{m.seconds:.1f}"
    if m.code not in (0, 2):
        text += " FAILED"
    return f"{text} ({inner:.2f})" if inner is not None else text


def print_table(rows: list[Row]) -> None:
    """The first table: readout beside PyMC's default sampler."""
    head = (
        f"{'workload':<46} {'readout s (fit)':>17} {'MB':>6} "
        f"{'pm.sample() s (sampling)':>25} {'MB':>6} {'ratio':>6}  target"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        pymc = _seconds(r.pymc, "sample") if r.pymc else "—"
        pymc_mb = f"{r.pymc.peak_mb:.0f}" if r.pymc else "—"
        ratio = f"{r.pymc.seconds / r.readout.seconds:.1f}x" if r.pymc else "—"
        print(
            f"{r.workload:<46} {_seconds(r.readout, 'fit'):>17} {r.readout.peak_mb:>6.0f} "
            f"{pymc:>25} {pymc_mb:>6} {ratio:>6}  {r.target}"
        )


def twice(command: list[str], warm: bool, env: dict | None = None) -> Measure:
    """Measure ``command``; with ``warm``, after one unmeasured run that fills the caches."""
    if warm:
        measure(command, env)
    return measure(command, env)


def model_rows(warm: bool, quick: bool) -> list[Row]:
    """Measure every workload of the first table."""
    work = WORK / "work"
    work.mkdir(parents=True, exist_ok=True)
    reports = WORK / "reports"
    rows = []
    rows.append(Row("readout --help", twice([READOUT, "--help"], warm), None, "< 1 s"))
    validate = [READOUT, "validate", "--config", str(CONFIG)]
    rows.append(Row("readout validate (the demo config)", twice(validate, warm), None, "< 1 s"))
    bad = work / "bad.toml"
    bad.write_text(BAD_CONFIG.format(data=ROOT / "data" / "signup_conversion.csv"))
    rows.append(
        Row(
            "a bad-input error (exit 2)",
            twice([READOUT, "validate", "--config", str(bad)], warm),
            None,
            "< 1 s",
        )
    )
    run = [READOUT, "run", "--config", str(CONFIG), "--output", str(reports)]
    forced = measure([*run, "--force", "-j", "2"])
    rows.append(Row("readout run, nothing changed (the demo)", twice(run, warm), None, "< 1 s"))
    demos = [
        ("signup-page", "binary A/B/n, 3 x 12,000 users (signup-page)", "exact"),
        ("income-spend", "log-normal, 1,487 rows (income-spend)", "fit < 0.2 s"),
        ("creator-pricing", "hierarchical, 500 creators (creator-pricing)", "fit < 3 s"),
        ("eight-schools", "hierarchical, eight schools", "fit < 3 s"),
        ("three-groups", "mixture, 1,000 values, K = 1, 2, 3", "fit < 15 s"),
        ("topic-share", "regression, 400 rows (topic-share)", "fit < 5 s"),
    ]
    robust = work / "robust.toml"
    robust.write_text(ROBUST_CONFIG.format(data=ROOT / "data" / "income_spend.csv"))
    for name, label, target in demos[:2]:
        rows.append(_model_row(name, CONFIG, label, target, warm))
    label = "Student-t, 1,487 rows (income-spend)"
    rows.append(_model_row("income-spend-t", robust, label, "fit < 3 s", warm))
    for name, label, target in demos[2:]:
        new_data = name not in ("creator-pricing", "eight-schools")
        rows.append(_model_row(name, CONFIG, label, target, warm, new_data))
    config = pooling_data(100_000, work)
    command = [READOUT, "run", "--config", str(config), "--output", str(reports), "--force"]
    rows.append(
        Row(
            "hierarchical, 100,000 creators, whole run",
            twice(command, warm),
            twice(child("pymc", "creators-100000", str(config)), warm, pymc_env()),
            "< 30 s, < 1 GB",
        )
    )
    for n in (100, 500):
        label = f"programme prior, {n} experiments (each given the others, LOO)"
        rows.append(Row(label, twice(child("programme", str(n)), warm), None, "fit < 1 s"))
    label = "revenue with zeros, 12,000 users, 5 segments, forecast (paywall)"
    rows.append(_model_row("paywall", CONFIG, label, "fit < 0.2 s", warm))
    label = "5 metrics, CUPED, ratio, 4 segments (checkout-redesign)"
    rows.append(
        Row(label, twice(child("readout", "checkout-redesign", str(CONFIG)), warm), None, "—")
    )
    rows += mixture_rows(quick)
    rows.append(Row("make report --force (the whole demo, -j 2)", forced, None, "< 60 s"))
    return rows


def _model_row(
    name: str, config: Path, label: str, target: str, warm: bool, new_data: bool = True
) -> Row:
    """Warmed on the experiment's data, measured on a bootstrap copy no cache has seen.

    ``new_data`` false: measured on the same data (pooling data name each unit once, which
    a bootstrap copy would not; their fits compile nothing).
    """
    fresh = str(int.from_bytes(os.urandom(4), "little")) if new_data else ""
    measured = []
    for kind, env in (("readout", None), ("pymc", pymc_env())):
        if warm:
            measure(child(kind, name, str(config)), env)
        measured.append(measure(child(kind, name, str(config), fresh), env))
    for copy in (WORK / "work").glob(f"{name}-resampled-*.csv"):
        copy.unlink()
    return Row(label, *measured, target)


# --------------------------------------------------------------------------- mixture shapes


MIXTURE_CONFIG = """
[[experiments]]
name = "{shape}"
title = "{shape}, {n:,} values"
analysis = "mixture"
data = "values.csv"
value = "value"
components = [1, 2, 3]
"""
#: Each shape and size: its seeds, and the targets of a first run and a forced re-run.
MIXTURE_SHAPES = [
    ("far-small", 1000, "< 60 s", "< 15 s"),
    ("redundant", 1000, "< 60 s", "< 15 s"),
    ("three-groups", 1000, "< 60 s", "< 15 s"),
    ("three-groups", 200_000, "< 30 s", "< 30 s"),
    ("far-small", 200_000, "< 30 s", "< 30 s"),
]
MIXTURE_SEEDS = (1, 2, 3)


def _shapes_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "mixture_shapes", ROOT / "data" / "mixture_shapes.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass needs its module registered
    spec.loader.exec_module(module)
    return module


def mixture_rows(quick: bool) -> list[Row]:
    """Each mixture shape in a new folder per seed: the slowest first run and forced re-run.

    The compile caches are the per-user ones a ``make report`` or an earlier bench filled;
    the folder, its ``.cache/`` and ``reports/`` are new.
    """
    import pandas as pd

    shapes = _shapes_module()
    rows = []
    seeds = MIXTURE_SEEDS[:1] if quick else MIXTURE_SEEDS
    for shape, n, first_target, forced_target in MIXTURE_SHAPES:
        first, forced = [], []
        for seed in seeds:
            folder = WORK / "mixtures" / f"{shape}-{n}-{seed}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            pd.DataFrame({"value": shapes.values(shape, n, seed)}).to_csv(
                folder / "values.csv", index=False
            )
            (folder / "experiments.toml").write_text(MIXTURE_CONFIG.format(shape=shape, n=n))
            first.append(measure([READOUT, "run"], cwd=folder))
            forced.append(measure([READOUT, "run", "--force"], cwd=folder))
        label = f"mixture {shape} {n:,}"
        worst = lambda runs: max(runs, key=lambda m: m.seconds + 1e6 * (m.code != 0))  # noqa: E731
        rows.append(Row(f"{label}: new folder", worst(first), None, first_target))
        rows.append(Row(f"{label}: forced re-run", worst(forced), None, forced_target))
    return rows


# --------------------------------------------------------------------------- warehouse


def warehouse_rows(quick: bool) -> list[tuple]:
    """Measure the second table: DuckDB (10M units, or 1M with --quick) and PostgreSQL."""
    work = WORK / "work"
    rows = []
    sizes = [(1_000_000, 5_000_000)] if quick else [(10_000_000, 50_000_000)]
    for units, events in sizes:
        path = warehouse_duckdb(units, events, work)
        # DuckDB's own setting keeps the process under 1 GB (it spills to disk beyond it).
        url = f"duckdb:///{path}?memory_limit={DUCKDB_MEMORY}"
        rows.append(_warehouse_run("duckdb", url, units, events, work))
    # Segments of high cardinality: 300 levels, every metric pooled across them.
    units, events = 1_000_000, 5_000_000
    path = warehouse_duckdb(units, events, work)
    url = f"duckdb:///{path}?memory_limit={DUCKDB_MEMORY}"
    rows.append(_warehouse_run("duckdb", url, units, events, work, levels=300))
    rows.append(_postgres_row(work))
    return rows


def _warehouse_run(
    engine: str, url: str, units: int, events: int, work: Path, env=None, levels: int = 0
):
    segment_column = f", 'r' || CAST(user_id % {levels} AS VARCHAR) AS region" if levels else ""
    config = work / f"warehouse-{engine}{'-segments' if levels else ''}.toml"
    config.write_text(
        WAREHOUSE_CONFIG.format(
            url=url,
            engine=engine,
            units=units,
            segment_column=segment_column,
            segments='segments = ["region"]' if levels else "",
        )
    )
    out = work / f"warehouse-{engine}{'-segments' if levels else ''}-reports"
    shutil.rmtree(out, ignore_errors=True)
    # A scheduled run: the compiled SQL is cached from the run before (the first run here).
    command = [READOUT, "run", "--config", str(config), "--output", str(out), "--force"]
    run = twice(command, True, env)
    (bundle,) = out.glob(f"bench-{engine}/*/bundle.json")
    queries = json.loads(bundle.read_text())["queries"]
    bare = _bare_query(engine, url, queries, env)
    label = f"{engine}: {units:,} units, {events:,} events, 3 metrics" + (
        f", {levels} segments" if levels else ""
    )
    return label, run, bare


def _bare_query(engine: str, url: str, queries: list[dict], env) -> float:
    """The engine alone running the SQL readout ran (best of two, so its cache is warm)."""
    script = BARE[engine].format(url=url, queries=json.dumps([q["sql"] for q in queries]))
    times = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
        )
        times.append(float(out.stdout.split()[-1]))
    return min(times)


BARE = {
    "duckdb": (
        "import duckdb, json, time; path, _, limit = {url!r}.removeprefix('duckdb:///')"
        ".partition('?memory_limit='); con = duckdb.connect(path, read_only=True, "
        "config={{'memory_limit': limit}}); t = time.perf_counter()\n"
        "for q in json.loads({queries!r}): con.execute(q).fetchall()\n"
        "print(time.perf_counter() - t)"
    ),
    "postgres": (
        "import psycopg, json, os, time; con = psycopg.connect({url!r}.replace('postgres://', "
        "'postgresql://').replace('${{BENCH_PG_PASSWORD}}', os.environ['BENCH_PG_PASSWORD'])); "
        "t = time.perf_counter()\n"
        "for q in json.loads({queries!r}): con.execute(q).fetchall()\n"
        "print(time.perf_counter() - t)"
    ),
}


def _postgres_row(work: Path):
    from tests.engines import load_postgres, postgres_bin, postgres_server

    units, events = 1_000_000, 5_000_000
    if postgres_bin() is None:
        return (f"postgres: {units:,} units (PostgreSQL not installed)", None, None)
    source = warehouse_duckdb(units, events, work)
    import duckdb

    files = {}
    con = duckdb.connect(str(source), read_only=True)
    for table in ("exposures", "events"):
        files[table] = work / f"pg-{table}.csv"
        con.execute(f"COPY {table} TO '{files[table]}' (FORMAT csv, HEADER true)")
    con.close()
    with postgres_server() as (url, password):
        load_postgres(url, password, files)
        env = {**os.environ, "BENCH_PG_PASSWORD": password}
        secret = url.replace("readout@", "readout:${BENCH_PG_PASSWORD}@")
        return _warehouse_run("postgres", secret, units, events, work, env)


def print_warehouse(rows: list[tuple]) -> None:
    """The second table: readout's whole run beside the engine's bare query."""
    print()
    head = (
        f"{'warehouse workload':<52} {'readout run s':>13} {'MB':>6} {'bare query s':>13} "
        f"{'limit s':>8}  within"
    )
    print(head)
    print("-" * len(head))
    for label, run, bare in rows:
        if run is None:
            print(f"{label:<52} {'skipped':>13}")
            continue
        limit = 1.3 * bare + 2
        ok = "yes" if run.seconds <= limit and run.peak_mb < 1024 and run.code == 0 else "NO"
        print(
            f"{label:<52} {run.seconds:>13.1f} {run.peak_mb:>6.0f} {bare:>13.1f} {limit:>8.1f}"
            f"  {ok}"
        )
    print("limit: 1.3 x the bare query + 2 s, and under 1 GB (the readout process)")


def print_sequential(quick: bool) -> None:
    """The third table: the sequential rule's calibration, a bigger run than the slow test's.

    Every candidate rule read every day through the readout's decision code on simulated
    A/A tests and true effects (``analyses/ab_test/sequential_calibration.py``), and the A/A tests
    again at ten times the traffic (where a sceptical prior alone stops being honest).
    """
    runs = [("1,200 users a day", ["--experiments", "1000", "--effects", "300"])]
    if not quick:
        runs = [
            ("1,200 users a day", ["--experiments", "8000", "--effects", "2000"]),
            ("12,000 users a day, A/A only", ["--users-per-day", "12000", "--effects", "0"]),
        ]
    for label, extra in runs:
        print(f"\nsequential rule calibration, {label}:")
        command = [sys.executable, "-m", "analyses.ab_test.sequential_calibration", *extra]
        out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        print(out.stdout.rstrip() or out.stderr.rstrip())


def main() -> None:
    """Print both tables."""
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        kinds = {"readout": child_readout, "pymc": child_pymc, "programme": child_programme}
        kinds[sys.argv[2]](*sys.argv[3:])
        return
    quick = "--quick" in sys.argv
    warm = not quick
    started = time.perf_counter()
    print(f"readout bench on {os.cpu_count()} cores, {_machine()}; warm caches: {warm}")
    print()
    print_table(model_rows(warm, quick))
    print(
        "\nreadout s: the whole process (fit, figures, bundle, HTML and PDF), the fit alone in "
        "brackets (after the libraries every readout loads; PyMC's import counted in it); "
        "measured on a bootstrap copy of the data that no cache has seen (the pooling rows: on "
        "their own data). pm.sample() s: one process building the same model on the same data "
        "and "
        "sampling it with PyMC's defaults (1,000 draws after 1,000 tuning steps in as many "
        "chains as cores, at least 2; readout runs 4 chains); "
        "sampling alone in brackets. ratio: PyMC's process time over readout's. MB: peak "
        "resident memory of the largest process. The 100,000-creator PyMC model has every "
        "creator's effect integrated out (a plain model would sample 100,000 more parameters). "
        f"mixture rows: components [1, 2, 3] on data/mixture_shapes.py's shapes, a config "
        f"beside the data in a new folder; the slowest of {len(MIXTURE_SEEDS)} seeds "
        "(1 with --quick)."
    )
    print("\nspeed on many shapes (bench/shapes.py):")
    from shapes import codes_of, print_shapes, workloads

    print_shapes(workloads(quick, "--million" in sys.argv))
    print_warehouse(warehouse_rows(quick))
    print("\na programme run (bench/programme_run.py):")
    import programme_run

    sizes = [60] if quick else programme_run.sizes_of([])
    programme_run.print_table([(n, programme_run.run_size(n, codes_of(None))) for n in sizes])
    print_sequential(quick)
    print(f"\nbench took {time.perf_counter() - started:.0f} s")


def _machine() -> str:
    import platform

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {memory:.0f} GB RAM, Python {platform.python_version()}"


if __name__ == "__main__":
    main()
