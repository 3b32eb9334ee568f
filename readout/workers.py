"""A run's pool of worker processes (``readout run -j N``), kept out of the collector's way.

A worker lives through a whole run: it fits readouts, draws their charts, prints their pages
and the site's history charts. Python's cyclic garbage collector walks every object the
process keeps at each full collection: the worker's modules (matplotlib, WeasyPrint,
pandas, what it inherited from the run's process at the fork) and its caches are a few
hundred thousand objects that never die, walked again at every full collection while the
worker's charts and pages leave garbage to collect (in a programme morning, a tenth of a
worker's CPU; at 500 experiments, 21 s of each worker's).

So a worker keeps what it holds out of the collector's sight (:func:`gc.freeze`): what it
inherited, as it starts, and after each task, what it still holds once that task's garbage
is collected. Between tasks a worker holds only what lives as long as it does (modules,
caches, compiled templates, open engines): a task's own objects are freed or are garbage,
and the collection before the freeze takes the garbage. Objects frozen are still freed when
nothing refers to them; only a reference cycle frozen would never be.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from readout.data import share_engines


class Workers(ProcessPoolExecutor):
    """``jobs`` worker processes sharing their sources' engines, each task settled after."""

    def __init__(self, jobs: int) -> None:
        super().__init__(max_workers=jobs, initializer=_start)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """``fn(*args, **kwargs)`` in a worker (``map`` submits through it too)."""
        return super().submit(_settled, fn, *args, **kwargs)


def _start() -> None:
    """A worker's start: its engines kept open; what it inherited out of the collector's way."""
    share_engines()
    gc.freeze()


def _settled(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, then :func:`_settle`."""
    try:
        return fn(*args, **kwargs)
    finally:
        _settle()


def _settle() -> None:
    """After a task: collect its garbage, then freeze what the worker still holds."""
    gc.collect()
    gc.freeze()
