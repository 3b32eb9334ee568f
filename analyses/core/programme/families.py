"""The families of the population of true lifts, as mixing weights on one grid of scales.

Student-t (its mixing law binned onto the grid), normal and two normals: each a set of
hyperparameter columns (:class:`Family`) with their prior mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyses.core.programme.inputs import DF_GRID, FAMILIES, PER_OCTAVE, SHARE_GRID

# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """One family's hyperparameter values other than ``mu``, as columns of the grid.

    ``mixing`` (columns x scales) is each column's population distribution as weights over
    the grid of scales; ``log_prior`` its prior mass (log); ``params`` its parameters by name.
    """

    name: str
    mixing: np.ndarray
    log_prior: np.ndarray
    params: dict[str, np.ndarray]


def scale_grid(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The component scales: from a sixteenth of the smallest SE to 16 times the spread.

    Narrower components are indistinguishable from a point mass by any of the estimates,
    wider ones from a flat density over them; mass beyond the ends is put on the end nodes.
    """
    low = float(s.min()) / 16
    spread = max(float(np.max(np.abs(y - np.median(y)))), float(s.max()))
    octaves = np.log2(16 * spread / low)
    return low * 2.0 ** (np.arange(int(np.ceil(octaves * PER_OCTAVE)) + 1) / PER_OCTAVE)


def _tau_nodes(scales: np.ndarray, prior_scale: float, stride: int = 1) -> np.ndarray:
    """The scale nodes ``tau`` may take: up to six prior scales (the half-normal's tail)."""
    allowed = np.flatnonzero(scales <= 6 * prior_scale)
    if allowed.size < 2:
        allowed = np.arange(min(2, scales.size))
    return allowed[::stride]


def _log_half_normal_on_log(tau: np.ndarray, scale: float) -> np.ndarray:
    """Log prior mass of a half-normal on a grid uniform in ``log tau`` (Jacobian ``tau``)."""
    return np.log(tau) - 0.5 * (tau / scale) ** 2


def _t_offsets(df: float, n: int) -> np.ndarray:
    """Mass of a t's mixing law on scale offsets ``-(n-1) .. n-1`` nodes from ``tau``.

    ``lambda ~ InvGamma(df/2, df/2)`` binned by ``log sqrt(lambda)`` into cells one node
    wide; the end cells hold the tails. Each cell's mass is a difference of regularised
    incomplete gamma functions, taken on the side where it does not cancel.
    """
    from scipy.special import gammainc, gammaincc

    a = df / 2
    h = np.log(2.0) / PER_OCTAVE
    d = np.arange(-(n - 1), n)
    lo, hi = np.exp((2 * d - 1) * h), np.exp((2 * d + 1) * h)
    mass = np.where(
        d > 0,
        gammainc(a, a / lo) - gammainc(a, a / hi),
        gammaincc(a, a / hi) - gammaincc(a, a / lo),
    )
    mass[0] += gammaincc(a, a / lo[0])
    mass[-1] += gammainc(a, a / hi[-1])
    return mass


def _shifted(offsets: np.ndarray, nodes: np.ndarray, n: int) -> np.ndarray:
    """Rows of a mixing law centred on each node, tails beyond the grid put on its ends."""
    k = np.arange(n)
    index = k[None, :] - nodes[:, None] + (n - 1)
    rows = offsets[index]
    cum = np.concatenate([[0.0], np.cumsum(offsets)])
    rows[:, 0] += cum[index[:, 0]]
    rows[:, -1] += cum[-1] - cum[index[:, -1] + 1]
    return rows


def _student_t(scales: np.ndarray, prior_scale: float, df: float | None) -> Family:
    """Columns (tau, df): the t's mixing law binned onto the scales, centred on tau's node."""
    n, taus = scales.size, _tau_nodes(scales, prior_scale)
    dfs = DF_GRID if df is None else (float(df),)
    blocks = []
    for value in dfs:
        if np.isinf(value):
            blocks.append(np.eye(n)[taus])
        else:
            blocks.append(_shifted(_t_offsets(value, n), taus, n))
    tau = np.tile(scales[taus], len(dfs))
    return Family(
        "student_t",
        np.vstack(blocks),
        _log_half_normal_on_log(tau, prior_scale) - np.log(len(dfs)),
        {"tau": tau, "df": np.repeat(np.asarray(dfs, dtype=float), taus.size)},
    )


def _normal(scales: np.ndarray, prior_scale: float, df: float | None) -> Family:
    """Columns (tau): all the mass on tau's node."""
    taus = _tau_nodes(scales, prior_scale)
    tau = scales[taus]
    return Family(
        "normal", np.eye(scales.size)[taus], _log_half_normal_on_log(tau, prior_scale), {"tau": tau}
    )


def _two_normal(scales: np.ndarray, prior_scale: float, df: float | None) -> Family:
    """Columns (tau_narrow < tau_wide, share_wide), every other node for each scale."""
    taus = _tau_nodes(scales, prior_scale, stride=2)
    narrow, wide = np.triu_indices(taus.size, k=1)
    shares = np.asarray(SHARE_GRID)
    j1 = np.repeat(taus[narrow], shares.size)
    j2 = np.repeat(taus[wide], shares.size)
    share = np.tile(shares, narrow.size)
    mixing = np.zeros((j1.size, scales.size))
    rows = np.arange(j1.size)
    mixing[rows, j1] = 1 - share
    mixing[rows, j2] = share
    log_prior = _log_half_normal_on_log(scales[j1], prior_scale)
    log_prior += _log_half_normal_on_log(scales[j2], prior_scale)
    params = {"tau_narrow": scales[j1], "tau_wide": scales[j2], "share_wide": share}
    return Family("two_normal", mixing, log_prior, params)


_BUILDERS = {"student_t": _student_t, "normal": _normal, "two_normal": _two_normal}


def family(name: str, scales: np.ndarray, prior_scale: float, df: float | None = None) -> Family:
    """The hyperparameter columns of a family on a grid of scales.

    Parameters
    ----------
    name
        ``student_t``, ``normal`` or ``two_normal``.
    scales
        The component scales (:func:`scale_grid`).
    prior_scale
        The half-normal prior's scale for ``tau`` (and each of the two-normal's scales).
    df
        ``student_t`` only: fix the degrees of freedom instead of learning them.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown family {name!r}: one of {', '.join(FAMILIES)}")
    return _BUILDERS[name](scales, prior_scale, df)
