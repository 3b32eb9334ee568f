"""Sub-populations in one measurement: a Gaussian mixture, its component count by PSIS-LOO.

Modules by reason to change: :mod:`~analyses.mixture.spec` (config keys), ``data`` (the
values), ``model`` (the PyMC model, its NumPy log-density, priors, memberships), ``em``
(maximum likelihood from several starts), ``posterior`` (one count's posterior: importance
sampling from the modes' Laplace mixture, or NUTS), ``fit`` (the counts compared and the
chosen one summarised), ``decide``, ``figures``, ``results`` (the typed results).
"""

from __future__ import annotations

from analyses.core.base import Analysis
from analyses.mixture.data import load, request
from analyses.mixture.decide import VERDICTS, decide
from analyses.mixture.figures import plot
from analyses.mixture.fit import choose, fit, key_numbers, pointwise_blocks, redundant
from analyses.mixture.model import log_density, log_likelihood, membership, mixture_model
from analyses.mixture.results import MixtureDecision, MixtureResults
from analyses.mixture.spec import Spec

__all__ = [
    "ANALYSIS",
    "Spec",
    "choose",
    "decide",
    "fit",
    "key_numbers",
    "load",
    "log_density",
    "log_likelihood",
    "membership",
    "mixture_model",
    "plot",
    "pointwise_blocks",
    "redundant",
    "request",
]

ANALYSIS = Analysis(
    name="mixture",
    version="6",
    spec=Spec,
    results=MixtureResults,
    decision=MixtureDecision,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    warning_codes=("nearly_empty_component", "multimodal_posterior"),
    figures=("fit", "means"),
)
