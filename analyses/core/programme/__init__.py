"""The programme: a prior learned from past experiments, and the winner's curse corrected.

One hierarchical model over the primary-metric lifts of a programme's experiments::

    z_i   = log(1 + lift_i)                        the true lift, on the log scale
    y_i  ~ Normal(z_i, s_i)                         each experiment's estimate and its SE
    z_i  ~ mu + sigma_i * e_i,  e_i ~ Normal(0, 1)  a scale mixture of normals around mu:
        student_t     sigma_i^2 = tau^2 * lambda_i, lambda_i ~ InvGamma(nu / 2, nu / 2)
        normal        sigma_i = tau
        two_normal    sigma_i = tau_narrow or, with probability ``share``, tau_wide
    mu flat; tau (and each of tau_narrow < tau_wide) ~ HalfNormal(the finished estimates' sd,
    at least their median SE); nu uniform on DF_GRID (1 to 50 and infinity: the normal);
    share uniform.

**The log scale.** An experiment's relative lift is a ratio of two means; its posterior is
skewed (bounded below by -100%, long to the right), and the log of the ratio is the quantity
whose estimate is close to normal (a difference of two logs). Estimates and SEs come in as
``y = log(1 + lift)`` and ``s = se / (1 + lift)`` (:func:`from_lift`) or as the mean and sd of
``log(1 + draws)`` (:func:`from_draws`); every summary goes back to the lift scale (means of
``exp(z) - 1``, HDIs of the lift itself).

**Exact on grids.** Every family is a mixture of normals around ``mu`` whose scales live on
one fixed geometric grid of :data:`PER_OCTAVE` scales per octave (``sigma_k``), so an
experiment's marginal likelihood given the hyperparameters is a sum of normal densities,
``p(y_i | mu, theta) = sum_k pi_k(theta) Normal(y_i | mu, s_i^2 + sigma_k^2)``: the true lift
is integrated out exactly, and for every value of ``mu`` the marginals of all experiments
under all values of the other hyperparameters are one matrix product. The Student-t's mixing
law is binned onto the grid (its density agrees with the t's within 2.5% out to eight scales
for nu from 1 to 10); ``tau`` sits on the grid's nodes. ``mu`` is on an adaptive grid dense in
its posterior's bulk and sparse in its tails (:class:`MuGrid`), found by coarse passes as in
``analyses.pooling``. The hyperparameters' posterior is exact to the grids' resolution: no
Monte Carlo error in it, no sampler to diagnose.

**What comes out.** Given the hyperparameters an experiment's true lift is a mixture of
normals (the conjugate update of each component), so every experiment's programme posterior
is a mixture over (mu node, scale node): means and probabilities are exact sums; the HDIs of
all experiments at once come from draws of the mixtures (:data:`DRAWS`, seeded), a single
experiment's (:func:`posterior`) from its distribution function. An experiment of the fit is
summarised "given the others": its prior is the posterior predictive of the fit without it,
reached by reweighting the grid's nodes by ``1 / p(y_i | node)`` (exact on the grid, no
refit), and its likelihood is its own. Running experiments (``finished`` false) do not teach
the prior; they are read with the prior learned from the finished ones. Where an experiment's
own posterior draws exist (from its weak prior), :func:`posterior_from_draws` reweights them
by the learned prior's density, with a Pareto-k check, and falls back to the normal path.

**The family, measured** (``bench/programme.py families``; docs/programme.md has the tables):
on simulated programmes (true lifts from a t with 3 df, two normals, a spike and a slab,
skewed wins and a plain normal; 10 to 500 experiments; SEs 0.5% to 3%) the Student-t with a
learned df erred as little as any family (0.3 to 0.5 of the alone estimates' squared error),
predicted the estimates better than the normal on every fat-tailed truth and covered the
largest lifts better; the two-normal mixture matched its error at 5 to 20 times the cost.
:data:`FAMILY` is the Student-t. No symmetric family keeps the largest true lifts inside their
HDIs 94% of the time (60 to 80%): the price of shrinkage, highest where big wins are all
positive.

**Small programmes**: :data:`MIN_EXPERIMENTS` finished experiments share a primary-metric
kind before the learned prior is used (:func:`prior_choice`). The learned prior never hurt the
error or the coverage on average, even with 3 experiments; from 10 the winners' average is
within 0.3 points of their true average in every simulated truth (0.2 to 0.9 points above it
with 3 to 5), and the leave-one-out check has something to say.

**The modules**, each with one reason to change: ``inputs`` (the settings and the estimates
on the log scale), ``families`` (the population's families on the grid of scales), ``grid``
(the marginal likelihoods as matrix products, mu's adaptive grid), ``population`` (the fit and
the fitted :class:`Programme`), ``mixture`` (the :class:`Mixture` type and reading an
experiment with the prior), ``checks`` (prior-data conflict, leave-one-out, the
small-programme rule) and ``impact`` (the cumulative impact of shipped experiments). Every
name is importable from ``analyses.core.programme``.
"""

from __future__ import annotations

from analyses.core.programme.checks import loo_check, predictive_tail, prior_choice
from analyses.core.programme.families import Family, family, scale_grid
from analyses.core.programme.grid import MuGrid
from analyses.core.programme.impact import cumulative_impact
from analyses.core.programme.inputs import (
    COARSE_STRIDE,
    DF_GRID,
    DRAWS,
    EDGE,
    FAMILIES,
    FAMILY,
    LOG_2PI,
    MIN_EXPERIMENTS,
    MU_COARSE,
    MU_POINTS,
    NEGLIGIBLE,
    PER_OCTAVE,
    PRUNE,
    ROWS,
    SHARE_GRID,
    from_draws,
    from_lift,
)
from analyses.core.programme.mixture import (
    Mixture,
    chance_better,
    draw_mixture,
    posterior,
    posterior_from_draws,
    summarise,
    update,
    weighted_hdi,
)
from analyses.core.programme.population import Programme, fit

__all__ = [
    "COARSE_STRIDE",
    "DF_GRID",
    "DRAWS",
    "EDGE",
    "FAMILIES",
    "FAMILY",
    "Family",
    "LOG_2PI",
    "MIN_EXPERIMENTS",
    "MU_COARSE",
    "MU_POINTS",
    "Mixture",
    "MuGrid",
    "NEGLIGIBLE",
    "PER_OCTAVE",
    "PRUNE",
    "Programme",
    "ROWS",
    "SHARE_GRID",
    "chance_better",
    "draw_mixture",
    "cumulative_impact",
    "family",
    "fit",
    "from_draws",
    "from_lift",
    "loo_check",
    "posterior",
    "posterior_from_draws",
    "predictive_tail",
    "prior_choice",
    "scale_grid",
    "summarise",
    "update",
    "weighted_hdi",
]
