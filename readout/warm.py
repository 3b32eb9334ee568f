"""Compile the mixture's NUTS models once into the per-user cache (``make report`` runs it).

Importance sampling computes most posteriors without compiling anything; NUTS is the
fallback, and its first use with an empty cache compiles the model (5 to 60 s on 2 cores).
This samples the mixture's models of one to three components for a few steps, through the
same code as a fit, so that the compiled code is in the per-user cache
(:mod:`readout.caches`) before a first readout in any folder needs it. A stamp in the cache
names the installed versions and the model's source: it runs once, and again only after
an upgrade or a change to the model.

``python -m readout.warm`` (``make warm``).
"""

from __future__ import annotations

import hashlib
import sys
from importlib import metadata
from pathlib import Path

from readout import caches

#: Component counts warmed: those the demo and most configs compare.
COUNTS = (1, 2, 3)
#: Packages whose versions decide the compiled code.
PACKAGES = ("pymc", "pytensor", "numba", "numpy")


def stamp(folder: Path) -> Path:
    """The file that says this cache holds the models compiled by these versions."""
    import analyses.core.base
    import analyses.mixture.model

    digest = hashlib.sha256(sys.version.encode())
    for name in PACKAGES:
        digest.update(f"{name}={metadata.version(name)}".encode())
    for module in (analyses.core.base, analyses.mixture.model):
        digest.update(Path(module.__file__).read_bytes())
    return folder / f"warm-{digest.hexdigest()[:16]}"


def main() -> None:
    """Compile what is not compiled yet; say so either way."""
    folder = caches.configure()
    mark = stamp(folder)
    if mark.exists():
        print(f"readout: compiled models already in {folder}")
        return
    print(f"readout: compiling the mixture models into {folder} (once; about a minute)")
    import numpy as np

    from analyses.core.base import Settings
    from analyses.mixture import em, posterior

    rng = np.random.default_rng(0)
    y = np.r_[rng.normal(-3, 1, 100), rng.normal(0, 1, 100), rng.normal(4, 1, 100)]
    z = (y - y.mean()) / y.std()
    settings = Settings(draws=100, tune=100, chains=1, cores=1)
    for k in COUNTS:
        start = em.fit(z, k, rng)[0]
        posterior.by_nuts(y, k, start, settings)
    mark.write_text("compiled: " + ", ".join(f"{k} component(s)" for k in COUNTS) + "\n")


if __name__ == "__main__":
    main()
