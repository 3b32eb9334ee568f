"""Hierarchical partial pooling of one effect measured on many units (creators, markets).

Modules by reason to change: :mod:`~analyses.hierarchical.spec` (config keys), ``data``
(what to fetch, one estimate per unit), ``models`` (the exact grid posterior and the PyMC
model), ``units`` (the unit table, the units a report names, baselines, recovery of known
effects), ``decide``, ``figures``, ``fit``, ``results`` (the typed results).
"""

from __future__ import annotations

from analyses.core.base import Analysis
from analyses.hierarchical.data import Units, load, request
from analyses.hierarchical.decide import VERDICTS, decide, group_verdict, group_where
from analyses.hierarchical.figures import plot
from analyses.hierarchical.fit import fit, key_numbers
from analyses.hierarchical.models import SUMMARY_DRAWS, centred_groups, full_model
from analyses.hierarchical.results import GridDiagnostics, HierarchicalDecision, HierarchicalResults
from analyses.hierarchical.spec import Spec
from analyses.hierarchical.units import recover

__all__ = [
    "ANALYSIS",
    "SUMMARY_DRAWS",
    "Spec",
    "Units",
    "centred_groups",
    "decide",
    "fit",
    "full_model",
    "group_verdict",
    "group_where",
    "key_numbers",
    "load",
    "plot",
    "request",
]

ANALYSIS = Analysis(
    name="hierarchical",
    version="8",
    spec=Spec,
    results=HierarchicalResults,
    decision=HierarchicalDecision,
    diagnostics=GridDiagnostics,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    warning_codes=("units_too_few_users", "units_no_spread", "bad_std_error"),
    figures=("shrinkage", "groups", "diagnostics"),
    recovery=recover,
)
