"""Regression with known measurement error, or binomial shares out of counts.

Modules by reason to change: :mod:`~analyses.regression.spec` (config keys), ``data``
(columns, checks, rows to predict), ``models`` (priors, the PyMC model, its NumPy
log-density, importance sampling and NUTS), ``fit`` (coefficients, predictions, the
predictive check), ``decide``, ``figures``, ``results`` (the typed results).
"""

from __future__ import annotations

from analyses.core.base import Analysis
from analyses.regression.data import Data, binomial_error, input_files, load, request
from analyses.regression.decide import VERDICTS, decide
from analyses.regression.figures import plot
from analyses.regression.fit import fit, key_numbers
from analyses.regression.models import likelihood, log_density, model, priors
from analyses.regression.results import RegressionDecision, RegressionResults
from analyses.regression.spec import Spec

__all__ = [
    "ANALYSIS",
    "Data",
    "Spec",
    "binomial_error",
    "decide",
    "fit",
    "input_files",
    "key_numbers",
    "likelihood",
    "load",
    "log_density",
    "model",
    "plot",
    "priors",
    "request",
]

ANALYSIS = Analysis(
    name="regression",
    version="6",
    spec=Spec,
    results=RegressionResults,
    decision=RegressionDecision,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    figures=("coefficients", "ppc"),
    input_files=input_files,
)
