"""Find analysis modules by name: ``analysis = "ab_test"`` loads ``analyses.ab_test``."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import analyses

_NOT_ANALYSES = {"base", "stats"}


def available() -> list[str]:
    """Names of every analysis module in the ``analyses`` package."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(analyses.__path__)
        if m.name not in _NOT_ANALYSES and not m.name.startswith("_")
    )


def get(name: str) -> ModuleType:
    """The analysis module called ``name``; ``KeyError`` when there is none."""
    if name not in available():
        raise KeyError(name)
    return importlib.import_module(f"analyses.{name}")
