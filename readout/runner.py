"""Run experiments: fit, write the bundle and posterior, render, publish atomically.

Each readout is built in ``<output>/.staging/`` and moved into
``<output>/<experiment>/<YYYY-MM-DD>/`` only when every file is complete, so the site and
the email never pick up half a report. One failing experiment never stops the others.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import traceback
import uuid
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import filelock
from tqdm import tqdm

from readout import analyses as registry
from readout import bundle as bundles
from readout import render, site, wording
from readout.config import Config, Experiment
from readout.data import read_table, sha256_file
from readout.errors import ConfigError, DataError

log = logging.getLogger("readout")
# PyMC logs each sampling step at INFO; readout prints its own progress.
logging.getLogger("pymc").setLevel(logging.WARNING)
# PyMC's HMC energy can overflow for a wild proposal early in warm-up; NUTS rejects it.
warnings.filterwarnings("ignore", message="overflow encountered in dot", category=RuntimeWarning)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    """How one experiment's run ended."""

    name: str
    code: int
    message: str
    folder: str | None = None
    seconds: float = 0.0
    action: str = "fitted"


@functools.cache
def code_version() -> str:
    """Hash of the rendering code and templates: a change re-renders, it does not refit."""
    digest = hashlib.sha256()
    paths = sorted((ROOT / "templates").rglob("*")) + [
        ROOT / "readout" / "wording.py",
        ROOT / "readout" / "render.py",
    ]
    for path in paths:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fit_key(experiment: Experiment, data_sha256: str) -> str:
    """Cache key of a fit: the data, the experiment's config and the analysis's version."""
    module = registry.get(experiment.spec.analysis)
    extra = [
        sha256_file(path) if path.is_file() else "missing"
        for path in (
            Path(experiment.settings.base_dir) / name
            for name in getattr(module, "input_files", lambda spec: [])(experiment.spec)
        )
    ]
    payload = "|".join(
        [data_sha256, *extra, experiment.config_sha256(), f"{module.NAME}:{module.VERSION}"]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def latest_readout(output: Path, name: str) -> Path | None:
    """The newest readout folder of an experiment, if any."""
    folder = output / name
    if not folder.is_dir():
        return None
    dated = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "bundle.json").is_file())
    return dated[-1] if dated else None


def _save_figures(module, fit, staging: Path) -> list[dict]:
    import matplotlib.pyplot as plt

    saved = []
    for key, fig in module.plot(fit).items():
        filename = f"fig-{key}.svg"
        # Dense layers (scatter points, traces) are rasterised inside the SVG at 150 dpi.
        fig.savefig(staging / filename, format="svg", dpi=150, metadata={"Date": None})
        plt.close(fig)
        saved.append({"key": key, "file": filename})
    return saved


def previous_readout(output: Path, name: str, readout_date: str) -> dict | None:
    """What the history needs of the newest readout before ``readout_date``."""
    folder = output / name
    if not folder.is_dir():
        return None
    earlier = sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name < readout_date and (p / "bundle.json").is_file()
    )
    if not earlier:
        return None
    bundle = bundles.read(earlier[-1] / "bundle.json")
    text = wording.readout_text(bundle)
    return {
        "date": earlier[-1].name,
        "data_sha256": bundle["data_sha256"],
        "config_sha256": bundle["config_sha256"],
        "verdict": text.verdict,
        "headline": text.headline,
        "key_numbers": bundle.get("key_numbers"),
    }


def build_readout(
    experiment: Experiment,
    staging: Path,
    readout_date: str,
    output: Path | None = None,
    data_sha256: str | None = None,
) -> dict:
    """Fit one experiment into ``staging``: posterior, figures, bundle, HTML and PDF."""
    started = time.perf_counter()
    spec = experiment.spec
    module = registry.get(spec.analysis)
    frame = read_table(experiment.data_path)
    rows, warnings = module.load(spec, frame, str(experiment.data_path))
    data_sha = data_sha256 or sha256_file(experiment.data_path)
    fit = module.fit(spec, rows, experiment.settings)
    fit.posterior.to_netcdf(staging / "posterior.nc", engine="h5netcdf")
    figures = _save_figures(module, fit, staging)
    tables = []
    for key, table in fit.tables.items():
        table.to_csv(staging / f"{key}.csv", index=False)
        tables.append({"key": key, "file": f"{key}.csv", "rows": len(table)})
    bundle = {
        "schema_version": bundles.SCHEMA_VERSION,
        "experiment": spec.name,
        "title": spec.title,
        "analysis": spec.analysis,
        "analysis_version": module.VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "readout_date": readout_date,
        "ci_prob": experiment.settings.ci_prob,
        "ci_kind": "hdi",
        "data_file": experiment.data_path.name,
        "data_sha256": data_sha,
        "config_sha256": experiment.config_sha256(),
        "fit_key": fit_key(experiment, data_sha),
        "spec": spec.model_dump(mode="json", exclude={"email"}),
        "versions": bundles.versions(),
        "seed": experiment.settings.seed,
        "run_seconds": 0.0,
        "diagnostics": fit.diagnostics,
        "warnings": warnings + fit.warnings,
        **fit.results,
        "key_numbers": module.key_numbers(fit.results),
        "previous": previous_readout(output, spec.name, readout_date) if output else None,
        "tables": tables,
        "figures": figures,
    }
    bundle["run_seconds"] = round(time.perf_counter() - started, 2)
    text = wording.readout_text(bundle)
    if "decision" in bundle:
        bundle["decision"] = {**bundle["decision"], "reason": text.reason}
    bundle["figures"] = [
        {**f, "caption": text.figures[f["key"]].caption, "alt": text.figures[f["key"]].alt}
        for f in figures
    ]
    bundles.validate(bundle)
    bundles.atomic_write_text(staging / "bundle.json", bundles.dumps(bundle))
    return bundle


def _render(folder: Path) -> None:
    render.render_readout(folder)
    (folder / ".render_key").write_text(code_version())


def publish_folder(staging: Path, final: Path) -> None:
    """Move a finished staging folder into place, replacing an older one atomically."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = None
    if final.exists():
        trash = staging.parent / f"trash-{uuid.uuid4().hex}"
        os.replace(final, trash)
    os.replace(staging, final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def run_one(experiment: Experiment, output: Path, readout_date: str, force: bool) -> Outcome:
    """Run one experiment end to end; never raises, reports how it ended."""
    started = time.perf_counter()
    name = experiment.name
    staging = output / ".staging" / f"{name}-{uuid.uuid4().hex}"
    try:
        previous = latest_readout(output, name)
        data_sha = sha256_file(experiment.data_path) if experiment.data_path.is_file() else None
        if not force and previous is not None and data_sha is not None:
            key = fit_key(experiment, data_sha)
            if bundles.read(previous / "bundle.json").get("fit_key") == key:
                render_key = previous / ".render_key"
                if render_key.is_file() and render_key.read_text() == code_version():
                    return Outcome(name, EXIT_OK, "unchanged", str(previous), 0.0, "cached")
                _render(previous)
                seconds = time.perf_counter() - started
                return Outcome(name, EXIT_OK, "re-rendered", str(previous), seconds, "rendered")
        staging.mkdir(parents=True)
        bundle = build_readout(experiment, staging, readout_date, output, data_sha)
        _render(staging)
        final = output / name / readout_date
        publish_folder(staging, final)
        headline = wording.readout_text(bundle).headline
        return Outcome(name, EXIT_OK, headline, str(final), time.perf_counter() - started)
    except DataError as exc:
        return Outcome(name, EXIT_BAD_INPUT, str(exc), None, time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - one experiment's failure must not stop others
        detail = "".join(traceback.format_exception_only(exc)).strip()
        log.debug("experiment %s failed", name, exc_info=True)
        return Outcome(name, EXIT_FAILED, detail, None, time.perf_counter() - started)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _progress(outcomes, total: int):
    if sys.stderr.isatty():
        yield from tqdm(outcomes, total=total, desc="readout", unit="experiment")
        return
    for i, outcome in enumerate(outcomes, start=1):
        yield outcome
        status = {0: "ok", 1: "FAILED", 2: "BAD INPUT"}[outcome.code]
        print(
            f"readout: [{i}/{total}] {outcome.name}: {status}, {outcome.action} "
            f"in {outcome.seconds:.1f} s — {outcome.message}",
            file=sys.stderr,
            flush=True,
        )


def lock(output: Path) -> filelock.FileLock:
    """The lock that keeps two runs from writing the same output folder."""
    output.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(output / ".readout.lock", timeout=0)


def run(
    config: Config,
    output: Path,
    only: tuple[str, ...] = (),
    force: bool = False,
    jobs: int = 1,
    readout_date: str | None = None,
) -> list[Outcome]:
    """Run the selected experiments, then refresh the site pages."""
    names = {e.name for e in config.experiments}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(
            str(config.path),
            f"--only names unknown experiment(s): {', '.join(unknown)}",
            f"use one of {', '.join(sorted(names))}",
        )
    selected = [e for e in config.experiments if not only or e.name in only]
    readout_date = readout_date or date.today().isoformat()
    try:
        with lock(output):
            outcomes = []
            if jobs > 1 and len(selected) > 1:
                # Experiments share the cores: each samples its chains one after another.
                selected = [replace(e, settings=replace(e.settings, cores=1)) for e in selected]
                with ProcessPoolExecutor(max_workers=jobs) as pool:
                    futures = [
                        pool.submit(run_one, e, output, readout_date, force) for e in selected
                    ]
                    outcomes = list(
                        _progress((f.result() for f in as_completed(futures)), len(selected))
                    )
            else:
                lazy = (run_one(e, output, readout_date, force) for e in selected)
                outcomes = list(_progress(lazy, len(selected)))
            site.record_status(output, outcomes)
            site.write_site(config, output)
    except filelock.Timeout:
        raise ConfigError(
            str(output),
            "another readout run is writing this folder",
            "wait for it to finish (or remove .readout.lock if no run is active)",
        ) from None
    return outcomes


def render_all(config: Config, output: Path) -> int:
    """Re-render every readout from its bundle (no refit) and refresh the site pages."""
    count = 0
    with lock(output):
        for experiment in config.experiments:
            folder = output / experiment.name
            if not folder.is_dir():
                continue
            for readout in sorted(folder.iterdir()):
                if (readout / "bundle.json").is_file():
                    _render(readout)
                    count += 1
        site.write_site(config, output)
    return count


def validate(config: Config) -> list[str]:
    """Check every experiment's data without fitting; returns one line per experiment."""
    lines = []
    for experiment in config.experiments:
        module = registry.get(experiment.spec.analysis)
        frame = read_table(experiment.data_path)
        rows, warnings = module.load(experiment.spec, frame, str(experiment.data_path))
        lines.append(
            f"{experiment.name}: ok ({len(rows):,} rows from {experiment.data_path.name}"
            + (f", {len(warnings)} warning(s)" if warnings else "")
            + ")"
        )
    return lines


def exit_code(outcomes: list[Outcome]) -> int:
    """2 if any input was bad, else 1 if any experiment failed, else 0."""
    return max((o.code for o in outcomes), default=EXIT_OK)


def outcome_json(outcomes: list[Outcome]) -> str:
    """Outcomes as JSON lines (for logs and tests)."""
    return "\n".join(json.dumps(o.__dict__) for o in outcomes)
