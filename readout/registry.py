"""The analyses readout knows: every module in ``analyses`` that declares an ``ANALYSIS``.

``analysis = "ab_test"`` in a config finds ``analyses.ab_test.ANALYSIS``. A module that
declares no :class:`~analyses.core.base.Analysis` (a helper such as ``analyses.stats``) is never
listed, whatever its name.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import analyses
from analyses.core.base import Analysis


@functools.cache
def _all() -> dict[str, Analysis]:
    found: dict[str, Analysis] = {}
    for info in pkgutil.iter_modules(analyses.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"analyses.{info.name}")
        declared = getattr(module, "ANALYSIS", None)
        if isinstance(declared, Analysis):
            if declared.name != info.name:
                raise RuntimeError(
                    f"analyses/{info.name}.py declares an analysis named '{declared.name}'; "
                    "the module and the analysis must share a name"
                )
            found[declared.name] = declared
    return found


def available() -> list[str]:
    """Names of every declared analysis, sorted."""
    return sorted(_all())


def get(name: str) -> Analysis:
    """The analysis called ``name``; ``KeyError`` when there is none."""
    return _all()[name]


def wording_module(name: str) -> str:
    """The import name of an analysis's wording package: ``readout.wording.<name>``."""
    return f"readout.wording.{name}"
