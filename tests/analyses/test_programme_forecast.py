"""Issue 21: a readout decided with the programme's prior forecasts its days to a decision
with the same prior and rule, checked against an independent simulation on a grid."""

from types import SimpleNamespace

import numpy as np
from scipy import stats

from analyses.ab_test.programme import forecast_with
from analyses.ab_test.results import Forecast, Horizon
from analyses.ab_test.spec import Decision
from analyses.core import programme as pg

PROB = 0.94
N_NOW = 20_000.0
RATE = 1_000.0
SIMS = 4000
#: A fat-tailed learned prior on log(1 + lift): most lifts small, a few large.
PRIOR = pg.Mixture(np.array([0.8, 0.2]), np.array([0.0, 0.0]), np.array([0.01, 0.05]))


def results(y, s):
    """The inputs the forecast reads of a readout: its primary comparison's own HDI."""
    half = stats.norm.ppf(0.5 + PROB / 2) * s
    comparison = SimpleNamespace(
        arm="B", lift_rel=SimpleNamespace(hdi=(np.expm1(y - half), np.expm1(y + half)))
    )
    metric = SimpleNamespace(
        comparisons=(comparison,),
        higher_is_better=True,
        arms=(SimpleNamespace(n=N_NOW / 2), SimpleNamespace(n=N_NOW / 2)),
        waiting=0,
    )
    return SimpleNamespace(metrics=(metric,), ci_prob=PROB, primary="B", progress=None)


def grid_reference(y, s, days, decision, rng):
    """The chance of a decision by brute force: the posterior on a fine grid of z."""
    z = np.linspace(-0.3, 0.3, 1201)
    prior = sum(
        w * stats.norm.pdf(z, m, sd)
        for w, m, sd in zip(PRIOR.weights, PRIOR.means, PRIOR.sds, strict=True)
    )
    post = prior * stats.norm.pdf(y, z, s)
    post /= post.sum()
    truth = rng.choice(z, size=SIMS, p=post)
    s_new = s * np.sqrt(N_NOW / (RATE * days))
    seen = truth + s_new * rng.standard_normal(SIMS)
    after = post[None, :] * stats.norm.pdf(seen[:, None], z[None, :], s_new)
    after /= after.sum(axis=1, keepdims=True)
    lift = np.expm1(z)
    prob = after[:, z > 0].sum(axis=1)
    loss = (after * np.maximum(-lift, 0)).sum(axis=1)
    mean = (after * z).sum(axis=1)
    sd = np.sqrt((after * z**2).sum(axis=1) - mean**2)
    low = np.expm1(mean - stats.norm.ppf(0.5 + PROB / 2) * sd)
    high = np.expm1(mean + stats.norm.ppf(0.5 + PROB / 2) * sd)
    ship = (prob >= decision.min_prob_better) & (low > 0) & (loss <= decision.max_expected_loss)
    control = (prob <= 1 - decision.min_prob_better) & (high < 0)
    return float(np.mean(ship | control)), float((post * np.maximum(lift, 0)).sum())


def test_the_programme_forecast_agrees_with_an_independent_simulation():
    # The data alone: +6% +- 2.5% (SE on the log scale); the prior pulls it towards 0.
    y, s = np.log1p(0.06), 0.025
    decision = Decision()
    spec = SimpleNamespace(decision=decision)
    own = Forecast(
        units_per_day=RATE,
        days=20.0,
        first=0.0,
        last=20 * 86400.0,
        horizons=tuple(
            Horizon(days=d, units=RATE * d, prob_decision=0.9, verdicts={"ship": 0.9})
            for d in (7, 14, 28)
        ),
        loss_keep=0.06,
        simulations=SIMS,
    )
    got = forecast_with(PRIOR, spec, results(y, s), own, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    for horizon in got.horizons:
        want, loss_keep = grid_reference(y, s, horizon.days, decision, rng)
        # Two independent simulations of SIMS each: the difference's sd is at most
        # sqrt(2 * 0.25 / SIMS) = 0.011; 4 sds, plus the grid's and the mixture's rounding.
        assert abs(horizon.prob_decision - want) < 0.04, (horizon.days, horizon.prob_decision)
    # The loss of keeping the control is the programme posterior's (exact vs a fine grid).
    assert abs(got.loss_keep - loss_keep) < 2e-4
    # And far below the data alone's: the prior shrinks the +6% towards 0.
    assert got.loss_keep < 0.045
    assert got.horizons[0].prob_decision < 0.9
