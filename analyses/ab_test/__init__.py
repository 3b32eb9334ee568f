"""A/B and A/B/n tests: one metric from a data file, or several from a warehouse.

The verdict: the primary metric decides (ship, keep the control, keep collecting, no
meaningful difference), a guardrail that shows harm beyond its tolerance stops a ship, and a
failed health check (sample-ratio mismatch, units exposed to several arms or left out,
sampler diagnostics) withholds it. An observational comparison ships nothing; an A/A test
passes or fails.

Modules by reason to change: :mod:`~analyses.ab_test.spec` (config keys),
:mod:`~analyses.ab_test.data` (what to fetch, per-arm statistics), ``conjugate`` and
``metrics`` (exact posteriors and comparisons of one metric), ``models`` and ``robust`` (the
same models in PyMC; the Student-t model), ``health`` (sample ratio, exposures, units left
out), ``decide`` (verdicts), ``forecast`` (days to a decision), ``fit`` (everything above
into the results), ``figures``, ``results`` (the typed results).
"""

from __future__ import annotations

from analyses.ab_test.data import ArmData, load, request
from analyses.ab_test.decide import (
    AA_VERDICTS,
    OBSERVATIONAL_VERDICTS,
    VERDICTS,
    decide,
    decide_comparisons,
)
from analyses.ab_test.figures import plot
from analyses.ab_test.fit import fit, key_numbers
from analyses.ab_test.results import AbDecision, AbResults
from analyses.ab_test.robust import robust_model
from analyses.ab_test.spec import Decision, Priors, Spec
from analyses.core.base import Analysis

__all__ = [
    "ANALYSIS",
    "ArmData",
    "Decision",
    "Priors",
    "Spec",
    "decide",
    "decide_comparisons",
    "fit",
    "key_numbers",
    "load",
    "plot",
    "request",
    "robust_model",
]

ANALYSIS = Analysis(
    name="ab_test",
    version="12",
    spec=Spec,
    results=AbResults,
    decision=AbDecision,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts={**VERDICTS, **OBSERVATIONAL_VERDICTS, **AA_VERDICTS},
    warning_codes=(
        "segment_empty",
        "segment_one_level",
        "segment_missing",
        "metric_waiting",
        "no_recent_traffic",
    ),
    figures=("lift", "arms", "scorecard", "forecast"),
)
