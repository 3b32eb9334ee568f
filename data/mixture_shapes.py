"""Mixtures of known truth in the shapes users meet: the mixture's tests and bench use them.

- ``far-small``: a small component (5% of the values) 25 standard deviations from the
  nearest other: EM or NUTS started at the data's quantiles never finds it.
- ``redundant``: two clusters, fitted with up to three components: the third has nowhere
  to go (its weight's posterior piles at zero, or it splits a cluster).
- ``three-groups``: the demo's three overlapping groups (``three_groups.csv``'s shape).

``python data/mixture_shapes.py SHAPE N SEED FILE`` writes one as a CSV with a ``value``
column.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shape:
    """Components' weights, means and standard deviations, in increasing mean."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    sds: tuple[float, ...]


SHAPES = {
    "far-small": Shape((0.6, 0.35, 0.05), (0.0, 5.0, 30.0), (1.0, 1.0, 1.0)),
    "redundant": Shape((0.4, 0.6), (-2.0, 2.5), (1.0, 1.0)),
    "three-groups": Shape((0.3, 0.2, 0.5), (-5.0, 0.0, 6.0), (3.0, 1.0, 1.5)),
}


def values(shape: str, n: int, seed: int) -> np.ndarray:
    """``n`` values of a shape, drawn with ``seed``."""
    truth = SHAPES[shape]
    rng = np.random.default_rng(seed)
    group = rng.choice(len(truth.weights), size=n, p=truth.weights)
    return rng.normal(np.take(truth.means, group), np.take(truth.sds, group))


if __name__ == "__main__":
    import pandas as pd

    name, size, seed, path = sys.argv[1:5]
    pd.DataFrame({"value": values(name, int(size), int(seed)).round(6)}).to_csv(path, index=False)
