"""A user-set prior on a metric's relative lift (``prior_mean``, ``prior_sd``; issue 27).

The prior is normal on ``z = log(1 + lift)``, the scale where a ratio of two arms' values is
closest to normal (the scale the programme's learned prior uses too): mean
``log(1 + prior_mean)`` and sd ``prior_sd / (1 + prior_mean)`` (the delta method: near the
mean, a change of ``prior_sd`` in the lift is that change in ``z``). So ``prior_mean = 0.0,
prior_sd = 0.05`` says "most likely no change, and a lift beyond +-10% would surprise me".

Each treatment's lift is read with it the way the programme reads a lift: the experiment's
own draws of ``z`` (made under the analysis's weak prior, whose information on the lift is
negligible beside the data's) are approximately normal ``N(y, s^2)``; times the prior, the
posterior is normal with precision ``1/s^2 + 1/s0^2``. The draws are mapped onto it
(``z' = m + (z - y) sqrt(v) / s``) and the treatment's value becomes ``control * exp(z')``:
the control's draws are kept, every number downstream (chance of being better, expected
loss, HDIs, ROPE, guardrail harm) comes from the same draws as without a prior. The prior is
stated as a lift, whatever the metric's good direction (a lower-is-better metric expecting a
2% fall has ``prior_mean = -0.02``).

Where a relative lift is not defined (a control's or a treatment's draws not all of one
sign) the prior is not applied (``applied = false``) and the report says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.ab_test.results import UserPrior


def log_scale(prior_mean: float, prior_sd: float) -> tuple[float, float]:
    """The prior's mean and sd on ``log(1 + lift)``."""
    return float(np.log1p(prior_mean)), float(prior_sd / (1 + prior_mean))


def posterior(y: float, s: float, m0: float, s0: float) -> tuple[float, float]:
    """The normal posterior (mean, sd) of ``z`` from an estimate ``N(y, s^2)`` and the prior."""
    precision = 1 / s**2 + 1 / s0**2
    return float((y / s**2 + m0 / s0**2) / precision), float(np.sqrt(1 / precision))


def apply(
    prior_mean: float,
    prior_sd: float,
    draws: dict[str, dict[str, np.ndarray]],
    control: str,
    arms: list[str],
) -> tuple[dict[str, dict[str, np.ndarray]], UserPrior]:
    """The arms' draws with every treatment's lift read with the prior, and its record."""
    m0, s0 = log_scale(prior_mean, prior_sd)
    c = draws[control]["value"]
    out: dict[str, dict[str, Any]] = {control: draws[control]}
    applied = True
    for arm in arms:
        if arm == control:
            continue
        t = draws[arm]["value"]
        ratio = t / c
        if not (np.all(c != 0) and np.all(ratio > 0)):
            applied = False
            break
        z = np.log(ratio)
        y, s = float(np.mean(z)), float(np.std(z))
        if not s > 0:
            applied = False
            break
        m, v = posterior(y, s, m0, s0)
        z_new = m + (z - y) * v / s
        new = dict(draws[arm])
        new["value"] = c * np.exp(z_new)
        if "mu" in draws[arm]:  # a geometric mean: the lift is exactly the logs' difference
            new["mu"] = draws[control]["mu"] + z_new
        out[arm] = new
    record = UserPrior(mean=prior_mean, sd=prior_sd, log_mean=m0, log_sd=s0, applied=applied)
    return (out if applied else draws), record
