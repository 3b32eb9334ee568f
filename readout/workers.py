"""A run's pool of worker processes (``readout run -j N``), kept out of the collector's way.

A worker lives through a whole run: it fits readouts, draws their charts, prints their pages
and the site's history charts. Python's cyclic garbage collector walks every object the
process keeps at each full collection: the worker's modules (matplotlib, WeasyPrint,
pandas, what it inherited from the run's process at the fork) are a few hundred thousand
objects that never die, walked again at every full collection while the worker's charts
and pages leave garbage to collect (in a programme morning, a tenth of a worker's CPU).

So a worker puts what it keeps out of the collector's sight (:func:`gc.freeze`): what it
inherited as it starts, and, after a task that imported modules, everything it then holds,
once its garbage is collected (what a task imports and caches lives as long as the
worker). Objects frozen are still freed when nothing refers to them; only a reference
cycle frozen would stay, and none is: the collection before each freeze takes them.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from readout.data import share_engines

#: In a worker: how many modules were loaded when it last froze what it held.
_FROZEN_AT = 0


class Workers(ProcessPoolExecutor):
    """``jobs`` worker processes sharing their sources' engines, each task settled after."""

    def __init__(self, jobs: int) -> None:
        super().__init__(max_workers=jobs, initializer=_start)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """``fn(*args, **kwargs)`` in a worker (``map`` submits through it too)."""
        return super().submit(_settled, fn, *args, **kwargs)


def _start() -> None:
    """A worker's start: its engines kept open; what it inherited out of the collector's way."""
    global _FROZEN_AT
    share_engines()
    gc.freeze()
    _FROZEN_AT = len(sys.modules)


def _settled(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, then :func:`settle`."""
    try:
        return fn(*args, **kwargs)
    finally:
        settle()


def settle() -> None:
    """After a task that loaded modules: collect the garbage, then freeze what is held."""
    global _FROZEN_AT
    if len(sys.modules) > _FROZEN_AT:
        gc.collect()
        gc.freeze()
        _FROZEN_AT = len(sys.modules)
