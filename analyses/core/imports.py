"""A library imported once a process its own quicker way, one thread at a time.

pyplot (:func:`analyses.core.figures.pyplot`) and WeasyPrint (``readout.weasy``) are
imported with functions of theirs or of the standard library replaced while they import
and put back after; a second thread doing the same meanwhile would take the first's
replacements for the originals and keep them.

In the ``readout`` program (:data:`PROGRAM`), what such an import makes is kept out of the
cyclic collector's sight (:func:`out_of_collection`).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType

#: Set by the ``readout`` program as it starts (:mod:`readout.__main__`), and so in the
#: processes it forks: not in a process that imports readout as a library (the tests).
PROGRAM = False

#: Held while a library is imported its quicker way (re-entrant: one such import may start
#: another, in the same thread: :func:`import_once`).
_IMPORTING = threading.RLock()
#: ``running`` is set in the thread a quick import runs in (:func:`_on_a_thread_of_its_own`).
_IN_IMPORT = threading.local()


def import_once(name: str, quickly: Callable[[], None]) -> ModuleType:
    """Module ``name``; where no thread has imported it yet, ``quickly`` imports it first."""
    if name not in sys.modules:
        if getattr(_IN_IMPORT, "running", False):  # started by a quick import: in its thread
            _import_locked(name, quickly)
        else:
            _on_a_thread_of_its_own(_import_locked, name, quickly)
    return importlib.import_module(name)


def _import_locked(name: str, quickly: Callable[[], None]) -> None:
    """``quickly()`` under the lock, out of collection, unless the module is there by then."""
    with _IMPORTING:
        if name not in sys.modules:  # not imported by another thread meanwhile
            with out_of_collection():
                quickly()


def _on_a_thread_of_its_own(run: Callable[..., None], *args: object) -> None:
    """``run(*args)`` in a thread of its own, waited for; what it raises is raised here.

    An import leaves cyclic garbage (a frame a caught exception keeps, and with it the
    frames that called it): frozen with the import (:func:`out_of_collection`), it would
    keep every frame of the caller's stack and what they hold, such as a readout's data
    and figures where pyplot is imported at its first chart (5 MB of a demo readout, kept
    to the end of the process). In a thread of its own the import's frames end at that
    thread's start.
    """
    failed: list[BaseException] = []

    def target() -> None:
        _IN_IMPORT.running = True
        try:
            run(*args)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            failed.append(exc)

    thread = threading.Thread(target=target, name="readout-import", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


@contextlib.contextmanager
def out_of_collection() -> Iterator[None]:
    """In the ``readout`` program, the collector off for the block, what it made then frozen.

    A library's import makes objects that live as long as the process (modules, classes,
    functions, tables, caches): the collector walks each of them at its young generation's
    next collection, and again at every older one it is moved to (0.05-0.1 s of a
    printer's first second after WeasyPrint's import, 0.03-0.05 s after pyplot's; a full
    collection at a run's start). Off while it imports, then :func:`gc.freeze`: never
    walked. Whatever else the process held then is frozen too (never collected, though
    freed when nothing refers to it): in the program, its start and its modules' imports
    (a run's ``-j`` workers freeze after every readout, :mod:`readout.workers`), and the
    garbage of another thread that ran meanwhile (a warehouse query's while a thread
    imports beside it, :func:`readout.runner._prefetched`: once a process). Elsewhere
    (:data:`PROGRAM` false) nothing changes: a process using readout as a library keeps
    its own objects collected.
    """
    if not PROGRAM:
        yield
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
