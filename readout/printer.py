"""The printer: one process that renders pages (HTML and PDF) beside a one-process run.

A ``readout run`` without ``-j`` fits in its own process and renders each readout's page at
the end. Rendering needs WeasyPrint, whose import, fonts and stylesheets cost 0.6-0.7 s of
CPU before the first page (:mod:`readout.weasy`); started as the run starts
(:func:`readout.runner.printer`), a printer process pays that on the other core while the
run reads the data and fits, and then renders the pages (:func:`readout.runner.finish`
hands it the work as it hands a ``-j`` run's workers).
"""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor


def start(analyses: tuple[str, ...], sample: bool = False) -> ProcessPoolExecutor:
    """A printer, its process started now (not at the first page) and warming up.

    ``analyses``: those of the run's readouts, whose page templates it compiles. ``sample``:
    it prints a sample page too (:func:`readout.render.warm_printing`).
    """
    pool = ProcessPoolExecutor(max_workers=1, initializer=_warm, initargs=(analyses, sample))
    pool.submit(int)
    return pool


def stop(pool: ProcessPoolExecutor | None) -> None:
    """End the printer's process, idle or still warming up (its pages are written)."""
    if pool is None:
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


#: Set in a printer's process: the test-only fault point kills the run with it.
IN_PRINTER = False


def _warm(analyses: tuple[str, ...], sample: bool = False) -> None:
    """The printer's start: it ends with the run, however the run ends; then it warms up.

    Stopped (SIGTERM) it ends at once and quietly: it is stopped idle at the end of every
    run; stopped in the middle of a page (the run itself stopped), it leaves what a killed
    writer leaves, which the next run clears (:func:`readout.store.owning`). Where the run
    is killed outright (SIGKILL, the OOM killer), Linux ends the printer too
    (``PR_SET_PDEATHSIG``): none outlives its run, writing or holding its output streams.
    """
    global IN_PRINTER
    IN_PRINTER = True
    parent = os.getppid()
    signal.signal(signal.SIGTERM, _stopped)
    _end_with_parent()
    if os.getppid() != parent:  # the run ended before the line above
        os._exit(0)
    from readout import render

    try:
        render.warm_printing(analyses, sample)
    except Exception:  # noqa: BLE001 - only a head start: each page says what fails, as before
        return


def _stopped(signum, frame) -> None:
    """SIGTERM: end at once, removing the fonts' temporary folder this printer made.

    Its exit handlers, which would remove it, are skipped by ``os._exit`` (nothing of the
    run's is left to flush here: a page cut short is cleared by the next run).
    """
    render = sys.modules.get("readout.render")  # no import inside a signal handler
    try:
        if render is not None:
            render.drop_print_setup()
    finally:
        os._exit(0)


def _end_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent ends (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        return
