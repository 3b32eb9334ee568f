"""Where readout keeps its compile caches: one folder per user, shared by every project.

PyTensor compiles a sampled model (with numba) the first time it meets it, which takes 5 to
60 s; compiled, it is reused by every later run on any data. Kept in one folder per user
rather than in each project's ``.cache/``, a readout in a new folder (a user's own config
beside their data) starts from compiled code. ``make report`` fills it (:mod:`readout.warm`).

The folder is ``$READOUT_CACHE_DIR`` when set, else the platform's standard place:
``$XDG_CACHE_HOME/readout`` or ``~/.cache/readout`` (Linux and other Unix),
``~/Library/Caches/readout`` (macOS), ``%LOCALAPPDATA%/readout`` (Windows). An
unwritable one falls back to a folder in the temporary directory.

Light on purpose: the command line, the tests and the bench import it before PyMC.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

#: The environment variable that overrides the folder.
ENV = "READOUT_CACHE_DIR"


def cache_dir() -> Path:
    """The per-user cache folder (not created here)."""
    override = os.environ.get(ENV)
    if override:
        return Path(override).expanduser()
    try:
        return _standard()
    except (KeyError, RuntimeError):  # no home folder to be found
        return _temporary()


def _standard() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "readout"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "readout"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative path is invalid and is ignored.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "readout"


def _writable(folder: Path) -> Path:
    """``folder``, created; or, if it cannot be written, one in the temporary directory."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        return folder
    except OSError:
        fallback = _temporary()
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _temporary() -> Path:
    """A per-user folder in the temporary directory."""
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"readout-cache-{user}"


def configure() -> Path:
    """Point PyTensor, numba and matplotlib at the cache folder; returns the folder.

    Call before PyMC or matplotlib is imported. A user's own settings win:
    ``PYTENSOR_FLAGS``'s ``base_compiledir``, ``NUMBA_CACHE_DIR``, ``MPLCONFIGDIR``.
    matplotlib's folder is readout's own, so that its font cache is built once and a
    user's ``matplotlibrc`` does not restyle the reports' figures. The models have no
    large matrix products, so PyTensor is told there is no BLAS (which saves a search and
    its warning).
    """
    folder = _writable(cache_dir())
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder / "numba"))
    os.environ.setdefault("MPLCONFIGDIR", str(folder / "matplotlib"))
    flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f]
    names = {f.split("=", 1)[0] for f in flags}
    if "base_compiledir" not in names:
        flags.append(f"base_compiledir={folder / 'pytensor'}")
    if "blas__ldflags" not in names:
        flags.append("blas__ldflags=")
    os.environ["PYTENSOR_FLAGS"] = ",".join(flags)
    return folder
