"""The Student-t model of an A/B test's rows (``robust = true``).

No closed form: importance sampling from a Laplace approximation of the posterior
(:mod:`analyses.core.importance`), or NUTS where Pareto k rejects the weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.ab_test.data import ArmData
from analyses.ab_test.results import StudentTPrior
from analyses.ab_test.spec import Spec
from analyses.core.base import Settings, sample, sampled
from analyses.core.results import Diagnostics


def _robust_inputs(spec: Spec, data: ArmData) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The Student-t model's values, each value's arm (0, 1, ...) and data-scaled prior."""
    arms = data.arms
    y = np.concatenate([data.rows[a] for a in arms])
    if data.metrics[0].kind == "log":  # log_transform: the Student-t model of the logs
        y = np.log(y)
    index = np.concatenate([np.full(data.rows[a].size, i) for i, a in enumerate(arms)])
    spread = float(np.std(y, ddof=1))
    p = spec.priors
    prior = {
        "mu_mean": p.mu_mean if p.mu_mean is not None else float(np.mean(y)),
        "mu_sd": p.mu_sd if p.mu_sd is not None else 2.0 * spread,
        "sigma_sd": 2.0 * (p.sigma if p.sigma is not None else spread),
        "nu_rate": p.nu_rate,
    }
    return y, index, prior


def robust_model(spec: Spec, data: ArmData) -> tuple[Any, dict[str, float]]:
    """The Student-t PyMC model of the rows (``robust = true``) and its data-scaled prior."""
    from analyses.ab_test.models import student_t_model

    y, index, prior = _robust_inputs(spec, data)
    return student_t_model(y, index, data.arms, prior), prior


def _importance(
    y: np.ndarray, index: np.ndarray, prior: dict[str, float], settings: Settings
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Each arm's location by PSIS from a Laplace approximation; ``None`` if not trusted.

    The model is fitted to standardised values (its priors rescaled with them: the model is
    unchanged, only its units) so that the optimiser and the Hessian work on numbers of
    order one; the locations are scaled back.
    """
    from analyses.ab_test.models import student_t_log_density
    from analyses.core import importance

    centre, scale = float(np.mean(y)), float(np.std(y))
    if not scale > 0:
        return None
    z = (y - centre) / scale
    standard = {
        "mu_mean": (prior["mu_mean"] - centre) / scale,
        "mu_sd": prior["mu_sd"] / scale,
        "sigma_sd": prior["sigma_sd"] / scale,
        "nu_rate": prior["nu_rate"],
    }
    arms = int(index.max()) + 1
    by_arm = [z[index == j] for j in range(arms)]
    start = np.r_[
        [np.median(v) for v in by_arm],
        [np.log(max(float(np.std(v)), 1e-3)) for v in by_arm],
        np.log(9.0),
    ]
    found = importance.sample(
        lambda theta: student_t_log_density(theta, z, index, standard),
        start,
        settings.chains * settings.draws,
        np.random.default_rng(settings.seed),
    )
    if found is None:
        return None
    return centre + scale * found.values[:, :arms], importance.diagnostics(found)


def fit_robust(
    spec: Spec, data: ArmData, settings: Settings
) -> tuple[dict, StudentTPrior, Diagnostics]:
    """The Student-t model of the rows: importance sampling, or NUTS where it fails.

    Returns each arm's draws, the data-scaled prior and how the posterior was computed.
    """
    arms = data.arms
    y, index, prior = _robust_inputs(spec, data)
    found = _importance(y, index, prior, settings)
    if found is not None:
        mu, diagnostics = found
    else:
        from analyses.ab_test.models import student_t_model

        with student_t_model(y, index, arms, prior):
            posterior, diagnostics = sampled(sample(settings))
        mu = posterior["mu"].transpose("chain", "draw", "arm").values.reshape(-1, len(arms))
    if data.metrics[0].kind == "log":
        # On the log scale the location is the log of the typical (geometric-mean) value.
        draws = {a: {"value": np.exp(mu[:, i]), "mu": mu[:, i]} for i, a in enumerate(arms)}
    else:
        draws = {a: {"value": mu[:, i]} for i, a in enumerate(arms)}
    return draws, StudentTPrior(kind="studentt", **prior), Diagnostics.model_validate(diagnostics)
