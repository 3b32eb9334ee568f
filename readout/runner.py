"""Run experiments: fit, write the bundle and posterior, render, publish atomically.

Each readout is built in ``<output>/.staging/`` and moved into
``<output>/<experiment>/<YYYY-MM-DD>/`` only when every file is complete, so the site and
the email never pick up half a report. One failing experiment never stops the others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from tqdm import tqdm

from analyses.core.base import NothingYet
from readout import batch, registry, render, site, store, weasy, wording
from readout import bundle as bundles
from readout import printer as printers
from readout.build import build_readout, draw_left, fit_key
from readout.config import Config, Experiment
from readout.data import Loaded, fetch_data, sha256_file, shared_engines
from readout.errors import ConfigError, DataError, Terminated
from readout.masking import scrub
from readout.workers import Workers

log = logging.getLogger("readout")
# PyMC logs each sampling step at INFO; readout prints its own progress.
logging.getLogger("pymc").setLevel(logging.WARNING)
# PyMC's HMC energy can overflow for a wild proposal early in warm-up; NUTS rejects it.
warnings.filterwarnings("ignore", message="overflow encountered in dot", category=RuntimeWarning)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Outcome:
    """How one experiment's run ended."""

    name: str
    code: int
    message: str
    folder: str | None = None
    seconds: float = 0.0
    action: str = "fitted"


def _render(folder: Path, site_url: str) -> str:
    """Render a readout folder's page and PDF; its headline (:func:`render.render_readout`)."""
    headline = render.render_readout(folder, site_url)
    (folder / store.RENDER_KEY).write_text(render.render_key(site_url))
    return headline


def publish_folder(staging: Path, final: Path) -> None:
    """Move a finished staging folder into place, replacing an older one atomically."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = None
    if final.exists():
        # Named after where it lived: a run killed before the next line is undone at the
        # start of the next run (store.clean_staging puts it back).
        trash = staging.parent / store.trash_name(final)
        os.replace(final, trash)
    os.replace(staging, final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def _on_sigterm(signum, frame):
    raise Terminated


@contextlib.contextmanager
def sigterm_unwinds():
    """While inside, SIGTERM raises :class:`Terminated` (in forked workers too)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _prefetch(printing: bool = True) -> None:
    """Import what every readout's figures need and, where ``printing``, what printing needs.

    Nothing an analysis may not use (xarray, SciPy): the thread is joined before the fit, so
    an import the readout never needed would only make it wait. A process whose pages a
    printer prints (:mod:`readout.printer`) does not import WeasyPrint (0.6 s of CPU).
    """
    from analyses.core import figures

    figures.pyplot()
    if printing:
        weasy.load()


@contextlib.contextmanager
def _prefetched(wanted: bool, printing: bool = True):
    """Import the drawing (and printing) libraries in a thread while a warehouse's query runs.

    The query holds no Python lock. (A data file is read too quickly to gain: measured.)
    The thread is always joined before the body's result is used, so no process forks
    (PyMC's chains) while an import is half done. ``printing``: as :func:`_prefetch`.
    """
    if not wanted:
        yield
        return
    import threading

    thread = threading.Thread(
        target=_prefetch, args=(printing,), name="readout-prefetch", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _failure_log(output: Path, name: str, exc: BaseException) -> Path:
    """Write an experiment's traceback to ``<output>/.logs/<name>.log`` (secrets masked)."""
    path = store.failure_log(output, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub("".join(traceback.format_exception(exc))))
    return path


def _ended(name: str, code: int, message: str, started: float) -> Outcome:
    """How an experiment failed; the message is masked (it reaches the status file and site)."""
    return Outcome(name, code, scrub(message), seconds=time.perf_counter() - started)


def run_one(
    experiment: Experiment,
    output: Path,
    readout_date: str,
    force: bool,
    site_url: str = "",
    as_of: date | None = None,
    stage: bool = False,
    fetched: Loaded | None = None,
    printed_elsewhere: bool = False,
    redrawn_later: bool = False,
) -> Outcome:
    """Run one experiment end to end; never raises, reports how it ended.

    ``stage``: fit into a staging folder and stop there (its outcome's ``folder``), neither
    rendering nor publishing; a readout to re-render is left as it is (``rendered``).
    :func:`finish` renders and publishes them once the programme has read them.
    ``fetched``: its data already fetched in a batch of experiments (:mod:`readout.batch`).
    ``printed_elsewhere``: a printer process prints the pages (:mod:`readout.printer`).
    ``redrawn_later``: the programme's step may redraw its charts (staged only; see
    :func:`readout.build.leave_for_later`).
    """
    started = time.perf_counter()
    name = experiment.name
    staging = store.staging_folder(output, name)
    kept = False
    try:
        previous = store.latest(output, name)
        loaded = fetched
        if loaded is not None:
            data_sha = loaded.fingerprint
        elif experiment.data_path is None:
            # A warehouse: one aggregate query tells whether anything changed. A readout
            # not made today most likely will be refitted: load the libraries that draw
            # (and print) it while the engine works.
            likely = force or previous is None or previous.name != readout_date
            with _prefetched(likely, printing=not printed_elsewhere):
                loaded = fetch_data(experiment, output, as_of=as_of)
            data_sha = loaded.fingerprint
        else:
            path = experiment.data_path
            data_sha = sha256_file(path) if path.is_file() else None
        if not force and previous is not None and data_sha is not None:
            key = fit_key(experiment, data_sha, as_of)
            if bundles.read(previous / store.BUNDLE).get("fit_key") == key:
                render_key = previous / store.RENDER_KEY
                if render_key.is_file() and render_key.read_text() == render.render_key(site_url):
                    return Outcome(name, EXIT_OK, "unchanged", str(previous), 0.0, "cached")
                if stage:
                    return Outcome(name, EXIT_OK, "re-rendered", str(previous), 0.0, "rendered")
                _render(previous, site_url)
                seconds = time.perf_counter() - started
                return Outcome(name, EXIT_OK, "re-rendered", str(previous), seconds, "rendered")
        staging.mkdir(parents=True)
        bundle = build_readout(
            *(experiment, staging, readout_date, output, loaded, as_of),
            redrawn_later=redrawn_later and stage,
        )
        if stage:
            headline = wording.readout_text(bundle).headline
            kept = True
            return Outcome(name, EXIT_OK, headline, str(staging), time.perf_counter() - started)
        headline = _render(staging, site_url)
        final = store.readout_folder(output, name, readout_date)
        publish_folder(staging, final)
        return Outcome(name, EXIT_OK, headline, str(final), time.perf_counter() - started)
    except NothingYet as exc:  # no fault: nothing to read yet (e.g. every unit waiting)
        outcome = _ended(name, EXIT_OK, str(exc), started)
        return replace(outcome, action="waiting")
    except DataError as exc:
        return _ended(name, EXIT_BAD_INPUT, str(exc), started)
    except ConnectionError as exc:  # an engine that stopped answering or timed out
        return _ended(name, EXIT_FAILED, str(exc), started)
    except Exception as exc:  # noqa: BLE001 - one experiment's failure must not stop others
        return _ended(name, EXIT_FAILED, _failure(output, name, exc), started)
    finally:
        if not kept:
            shutil.rmtree(staging, ignore_errors=True)


def _failure(output: Path, name: str, exc: Exception) -> str:
    """An unexpected error's last line and where its traceback was logged (if it could be)."""
    detail = "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1]
    try:
        return f"{detail} (details in {_failure_log(output, name, exc)})"
    except OSError:
        return detail


def finish_one(
    name: str, folder: Path, final: Path | None, site_url: str, output: Path
) -> tuple[float, str | None, str | None]:
    """Render a readout once; a staged one (``final`` given) is then published there.

    Returns the seconds it took, where it failed the message (its traceback in the failure
    log), else ``None``, and the headline of the page it rendered (or ``None``); never
    raises for an ordinary error.
    """
    started = time.perf_counter()
    try:
        if final is not None:  # staged: the charts its fit left to the programme, if it drew none
            draw_left(folder)
        headline = _render(folder, site_url)
        if final is not None:
            publish_folder(folder, final)
        return time.perf_counter() - started, None, headline
    except Exception as exc:  # noqa: BLE001 - one experiment's failure must not stop others
        return time.perf_counter() - started, scrub(_failure(output, name, exc)), None
    finally:
        if final is not None:
            shutil.rmtree(folder, ignore_errors=True)


def finish(
    config: Config,
    output: Path,
    outcomes: list[Outcome],
    readout_date: str,
    site_url: str,
    pool: ProcessPoolExecutor | None = None,
) -> list[Outcome]:
    """Read the staged readouts with the programme's prior, then render each once.

    The programme learns from the staged bundles as from published ones (a staged readout
    is its experiment's latest), rewrites the bundles its prior changes, and every readout
    that needs it (staged, with a stale render, or changed by the programme) is rendered
    once, in ``pool``'s workers where given, and the staged ones published. Each fitted
    readout's message is then its published page's headline (:func:`final_messages`).
    """
    from readout import programme

    root = store.staging_root(output)
    pending = {
        o.name: (Path(o.folder), store.readout_folder(output, o.name, readout_date))
        for o in outcomes
        if o.code == EXIT_OK and o.folder is not None and Path(o.folder).parent == root
    }
    # The programme's prior, learned from the bundles' numbers (no refit).
    changed: list[Path] = []
    programme.apply(config, output, changed.append, pending, pool)
    jobs: dict[Path, tuple[str, Path | None]] = {
        staged: (name, final) for name, (staged, final) in pending.items()
    }
    for o in outcomes:
        if o.code == EXIT_OK and o.action == "rendered":
            jobs[Path(o.folder)] = (o.name, None)
    for folder in changed:
        jobs.setdefault(folder, (folder.parent.name, None))
    calls = [(name, folder, final, site_url, output) for folder, (name, final) in jobs.items()]
    if pool is not None:
        printed = pool.map(finish_one, *zip(*calls, strict=True)) if calls else iter(())
        site.warm_templates()  # while the pages print: the site's pages come next
        done = list(printed)
    else:
        done = [finish_one(*call) for call in calls]
    by_name = {call[0]: (call, result) for call, result in zip(calls, done, strict=True)}
    finished = []
    settled = set()  # fitted readouts whose message is the headline of the page rendered here
    for o in outcomes:
        if o.name not in by_name:
            finished.append(o)
            continue
        (_, _, final, _, _), (seconds, error, headline) = by_name[o.name]
        if error is None and o.action != "rendered" and o.name not in pending:
            finished.append(o)  # a cached readout the programme changed, rendered again
            continue
        if error is not None:
            finished.append(Outcome(o.name, EXIT_FAILED, error, seconds=o.seconds + seconds))
            continue
        folder = str(final) if final is not None else o.folder
        done_one = replace(o, folder=folder, seconds=o.seconds + seconds)
        if o.action == "fitted" and headline is not None:
            done_one = replace(done_one, message=headline)
            settled.add(o.name)
        finished.append(done_one)
    # The verdict every page shows (the programme's prior may have decided it again).
    return final_messages(finished, frozenset(settled))


#: A fitted readout's progress line while the programme's prior may still decide its verdict.
VERDICT_LATER = "verdict below, once the programme's prior is read"


def _progress(outcomes, total: int, verdict_later: frozenset[str] = frozenset()):
    """One plain line per experiment as it ends (a progress bar on a terminal).

    ``verdict_later``: the A/B experiments whose verdict the programme's prior, read after
    every fit, may decide again: a fitted one's line does not quote the verdict its own
    numbers gave; the command prints the final one (:func:`final_messages`).
    """
    if sys.stderr.isatty():
        yield from tqdm(outcomes, total=total, desc="readout", unit="experiment")
        return
    for i, outcome in enumerate(outcomes, start=1):
        yield outcome
        status = {0: "ok", 1: "FAILED", 2: "BAD INPUT"}[outcome.code]
        later = (
            outcome.name in verdict_later and outcome.code == EXIT_OK and outcome.action == "fitted"
        )
        print(
            f"readout: [{i}/{total}] {outcome.name}: {status}, {outcome.action} "
            f"in {outcome.seconds:.1f} s — {VERDICT_LATER if later else outcome.message}",
            file=sys.stderr,
            flush=True,
        )


def run(
    config: Config,
    output: Path,
    only: tuple[str, ...] = (),
    force: bool = False,
    jobs: int = 1,
    readout_date: str | None = None,
    as_of: date | None = None,
) -> list[Outcome]:
    """Run the selected experiments, then refresh the site pages.

    ``as_of``: read the data as they stood at the end of that day (UTC); the readout's
    folder is named after it unless ``readout_date`` names another.
    """
    names = {e.name for e in config.experiments}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ConfigError(
            str(config.path),
            f"--only names unknown experiment(s): {', '.join(unknown)}",
            f"use one of {', '.join(sorted(names))}",
        )
    selected = [e for e in config.experiments if not only or e.name in only]
    readout_date = readout_date or (as_of or date.today()).isoformat()
    # The experiments whose verdict the programme's prior may decide again after the fits.
    later = verdict_later(config, selected)
    site_url = config.settings.site_url
    serial = jobs == 1 or len(selected) == 1
    redrawn = left_to_programme(config, selected, serial)
    # A readout of the day still to be written: a one-process run's printer warms up at once
    # (before the output folder is locked, so that it never holds the lock itself).
    first = force or any(
        not store.readout_folder(output, e.name, readout_date).exists() for e in selected
    )
    analyses = tuple(sorted({e.spec.analysis for e in selected}))
    with (
        printer(serial and first, analyses, asked_late(selected)) as pool,
        sigterm_unwinds(),
        store.owning(output),
    ):
        outcomes = []
        if not serial:
            # Experiments share the cores: each samples its chains one after another.
            selected = [
                replace(e, settings=e.settings.model_copy(update={"cores": 1})) for e in selected
            ]
            # Experiments whose queries differ only in their key: one query pair for them all.
            batched = batch.prefetch(selected, as_of)
            with Workers(jobs) as pool:
                try:
                    futures = [
                        pool.submit(
                            run_one,
                            *(e, output, readout_date, force, site_url, as_of, True),
                            batched.get(e.name),
                            redrawn_later=e.name in redrawn,
                        )
                        for e in selected
                    ]
                    outcomes = list(
                        _progress((f.result() for f in as_completed(futures)), len(selected), later)
                    )
                    # The same workers render what the programme leaves to render.
                    outcomes = finish(config, output, outcomes, readout_date, site_url, pool)
                    # ... and draw the site's history charts.
                    site.record_status(output, outcomes)
                    site.write_site(config, output, pool=pool)
                except BaseException:
                    # Stop the workers before the lock is released: none may publish
                    # after this run has ended (each removes its own staging folder).
                    for process in list(getattr(pool, "_processes", {}).values()):
                        process.terminate()
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        else:
            with shared_engines():
                batched = batch.prefetch(selected, as_of) if len(selected) > 1 else {}
                lazy = (
                    run_one(
                        *(e, output, readout_date, force, site_url, as_of, True),
                        batched.get(e.name),
                        printed_elsewhere=pool is not None,
                    )
                    for e in selected
                )
                outcomes = list(_progress(lazy, len(selected), later))
            outcomes = finish(config, output, outcomes, readout_date, site_url, pool)
            site.record_status(output, outcomes)
            site.write_site(config, output)
    return outcomes


@contextlib.contextmanager
def printer(
    needed: bool, analyses: tuple[str, ...], sample: bool = False
) -> Iterator[ProcessPoolExecutor | None]:
    """The printer of a one-process run (:mod:`readout.printer`), or ``None``.

    ``needed``: a readout of the day is still to be written, or ``--force``. A run that will
    most likely find every readout of the day written starts none: it would pay its
    WeasyPrint set-up for nothing. ``sample``: the run's first page will be asked for late (a
    warehouse's query, a sampled fit): the printer prints a sample page while it waits.
    Stopped when the run ends, rendered or not.
    """
    if not needed:
        yield None
        return
    pool = printers.start(analyses, sample)
    try:
        yield pool
    finally:
        printers.stop(pool)


def asked_late(selected: list[Experiment]) -> bool:
    """Whether a one-process run's first page is asked for well after its printer is ready.

    Beside a warehouse's query or a sampled model's fit (another analysis, a robust A/B
    metric), yes; a data file's A/B readout is exact, its page asked for about when the
    printer is ready.
    """
    return any(
        e.data_path is None or e.spec.analysis != "ab_test" or getattr(e.spec, "robust", False)
        for e in selected
    )


def verdict_later(config: Config, selected=None) -> frozenset[str]:
    """The experiments whose verdict the programme's prior may decide again after the fits.

    Their progress lines quote no verdict; the command prints the final one after the run.
    """
    return frozenset(
        e.name
        for e in (config.experiments if selected is None else selected)
        if e.spec.analysis == "ab_test" and config.programme.prior == "learned"
    )


def left_to_programme(config: Config, selected, serial: bool) -> frozenset[str]:
    """The experiments whose lift and scorecard charts a run leaves to the programme's step.

    Those whose verdict the programme's prior may decide (:func:`verdict_later`) with
    ``decide_with = "programme"``, in a ``-j`` run: the step draws them with its numbers,
    and the workers any it does not (:func:`readout.build.draw_left`). A one-process run
    (``serial``) draws them at the fit, as before: left, a chart the programme does not
    redraw would be drawn in the printer, which loads matplotlib only to redraw (0.7 s on
    a one-readout run's critical path, the printer's).
    """
    if serial or config.programme.decide_with != "programme":
        return frozenset()
    return verdict_later(config, selected)


def final_messages(outcomes: list[Outcome], settled: frozenset[str] = frozenset()) -> list[Outcome]:
    """Each fitted readout's message as its published bundle's headline: the final verdict.

    The programme's prior may decide a verdict again after the fit (and rewrite the bundle);
    the command line and the site's status then quote the verdict every page shows.
    ``settled``: the readouts whose message is already that (their page's headline, as
    :func:`finish` rendered it); the others' bundles are read and worded here.
    """
    final = []
    for o in outcomes:
        if o.code == EXIT_OK and o.action == "fitted" and o.folder is not None:
            if o.name in settled:
                final.append(o)
                continue
            bundle_path = Path(o.folder) / store.BUNDLE
            if bundle_path.is_file():
                o = replace(o, message=wording.readout_text(bundles.read(bundle_path)).headline)
        final.append(o)
    return final


def render_all(config: Config, output: Path) -> int:
    """Re-render every readout from its bundle (no refit) and refresh the site pages."""
    count = 0
    with store.owning(output, "render"):
        # The programme as a run reads it (the history or [programme] may have changed):
        # every page below is rendered from bundles that carry the same numbers.
        reapply_programme(config, output, lambda folder: None)
        for experiment in config.experiments:
            for folder in store.readouts(output, experiment.name):
                _render(folder, config.settings.site_url)
                count += 1
        site.write_site(config, output, force=True)
    return count


def reapply_programme(config: Config, output: Path, render_folder) -> list[str]:
    """The programme's prior applied to the latest A/B bundles, as ``run`` applies it."""
    from readout import programme

    return programme.apply(config, output, render_folder)


def validate(config: Config, output: Path | None = None, as_of: date | None = None) -> list[str]:
    """Check every experiment's data without fitting; returns one line per experiment.

    ``as_of``: check the data as they stood at the end of that day (UTC).
    """
    lines = []
    for experiment in config.experiments:
        analysis = registry.get(experiment.spec.analysis)
        unchanged = _unchanged_since(experiment, output) if as_of is None else None
        if unchanged is not None:
            lines.append(
                f"{experiment.name}: ok ({experiment.data_label()} unchanged since the readout "
                f"of {unchanged}, which checked it)"
            )
            continue
        loaded = fetch_data(experiment, output, write_cache=False, as_of=as_of)
        try:
            _, warnings = analysis.load(experiment.spec, loaded.fetched, experiment.input_paths())
        except NothingYet as exc:
            lines.append(f"{experiment.name}: ok ({exc.problem})")
            continue
        warnings = list(loaded.fetched.notes) + warnings
        lines.append(
            f"{experiment.name}: ok ({experiment.data_label()}"
            + (f", {len(warnings)} warning(s)" if warnings else "")
            + ")"
        )
    return lines


def _unchanged_since(experiment: Experiment, output: Path | None) -> str | None:
    """The date of the latest readout of exactly this data file, config and analysis."""
    if output is None or experiment.data_path is None or not experiment.data_path.is_file():
        return None
    latest = store.latest(output, experiment.name)
    if latest is None:
        return None
    key = fit_key(experiment, sha256_file(experiment.data_path))
    try:
        same = bundles.read(latest / store.BUNDLE).get("fit_key") == key
    except (OSError, ValueError):
        return None
    return latest.name if same else None


def exit_code(outcomes: list[Outcome]) -> int:
    """2 if any input was bad, else 1 if any experiment failed, else 0."""
    return max((o.code for o in outcomes), default=EXIT_OK)


def outcome_json(outcomes: list[Outcome]) -> str:
    """Outcomes as JSON lines (for logs and tests)."""
    return "\n".join(json.dumps(o.__dict__) for o in outcomes)
