"""The analyses readout knows: every package (or module) in ``analyses`` that declares one.

``analysis = "ab_test"`` in a config finds ``analyses.ab_test.ANALYSIS``, and its words in
``readout.wording.ab_test``. A package or module that declares no
:class:`~analyses.core.base.Analysis` (``analyses.core``, the shared helpers) is never
listed, whatever its name. An analysis declared elsewhere (a test's fixture package, a
plug-in) joins with :func:`register`, naming its wording package.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import analyses
from analyses.core.base import Analysis

#: The wording packages of analyses declared outside ``analyses/`` (:func:`register`).
_wording: dict[str, str] = {}


#: The analyses found so far: :func:`get` imports only the package it is asked for (a
#: binary A/B readout need not import the mixture's or the regression's modules).
_found: dict[str, Analysis] = {}


def _declared(name: str) -> Analysis | None:
    """The analysis ``analyses.<name>`` declares (imported now), or None."""
    if name.startswith("_") or name not in _packages():
        return None
    module = importlib.import_module(f"analyses.{name}")
    declared = getattr(module, "ANALYSIS", None)
    if not isinstance(declared, Analysis):
        return None
    if declared.name != name:
        raise RuntimeError(
            f"analyses/{name} declares an analysis named '{declared.name}'; "
            "the package and the analysis must share a name"
        )
    return declared


@functools.cache
def _packages() -> frozenset[str]:
    return frozenset(info.name for info in pkgutil.iter_modules(analyses.__path__))


@functools.cache
def _all() -> dict[str, Analysis]:
    for name in sorted(_packages()):
        if name not in _found:
            declared = _declared(name)
            if declared is not None:
                _found[name] = declared
    return _found


def available() -> list[str]:
    """Names of every declared analysis, sorted."""
    return sorted(_all())


def get(name: str) -> Analysis:
    """The analysis called ``name``; ``KeyError`` when there is none."""
    if name not in _found:
        declared = _declared(name)
        if declared is None:
            raise KeyError(name)
        _found[name] = declared
    return _found[name]


def wording_module(name: str) -> str:
    """The import name of an analysis's wording package: ``readout.wording.<name>``."""
    return _wording.get(name, f"readout.wording.{name}")


def register(analysis: Analysis, wording: str) -> None:
    """Add an analysis declared outside ``analyses/``, with its wording package's name.

    For tests and plug-ins: runs in this process then fit, word and render it like any
    other (a template of its own is optional: the generic one renders its layout).
    """
    if analysis.name not in _wording and _declared(analysis.name) is not None:
        raise ValueError(f"analysis '{analysis.name}' is declared in analyses/ already")
    _found[analysis.name] = analysis
    _wording[analysis.name] = wording


def unregister(name: str) -> None:
    """Forget an analysis added with :func:`register`."""
    if _wording.pop(name, None) is not None:
        _found.pop(name, None)
