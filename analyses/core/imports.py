"""A library imported once a process its own quicker way, one thread at a time.

pyplot (:func:`analyses.core.figures.pyplot`) and WeasyPrint (``readout.weasy``) are
imported with functions of theirs or of the standard library replaced while they import
and put back after; a second thread doing the same meanwhile would take the first's
replacements for the originals and keep them.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from types import ModuleType

#: Held while a library is imported its quicker way (re-entrant: one such import may start
#: another).
_IMPORTING = threading.RLock()


def import_once(name: str, quickly: Callable[[], None]) -> ModuleType:
    """Module ``name``; where no thread has imported it yet, ``quickly`` imports it first."""
    if name not in sys.modules:
        with _IMPORTING:
            if name not in sys.modules:  # not imported by another thread meanwhile
                quickly()
    return importlib.import_module(name)
