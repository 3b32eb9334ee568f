"""Atomic writes, and the temporary files a killed writer leaves behind.

Every file readout writes in place (pages, PDFs, bundles, the sent log, the outbox, the
query cache, the Quarto project) is first written to a temporary file beside it, named
``.<name>.<random>.tmp``, and moved onto its name when complete: readers see the old file or
the new one, never half. A run killed between the two steps leaves the temporary file; the
next run that owns the folder removes it (:func:`remove_temporary`) while holding its lock.
Names starting with a dot are never published, emailed or listed on the site.

``READOUT_TEST_KILL_WRITING`` is a test-only fault point: when it is set to a file-name
pattern (``report.pdf``, ``*.eml``), the process kills itself with SIGKILL after writing the
temporary file of a matching target and before moving it into place, as a power cut or the
OOM killer would (in a run's printer, :mod:`readout.printer`, the run too). The fault tests
use it to kill real runs at a chosen step.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import signal
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

from readout import store

#: Test-only: a file-name pattern; writing a matching file kills the process (see above).
KILL_WRITING = "READOUT_TEST_KILL_WRITING"


def _fault_point(path: Path) -> None:
    pattern = os.environ.get(KILL_WRITING)
    if pattern and fnmatch.fnmatch(path.name, pattern):
        from readout import printer

        if printer.IN_PRINTER:  # a power cut stops the run too, not only its printer
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, moved onto ``path`` when the block ends cleanly.

    Write the new content to the yielded path; an error inside the block removes it and
    leaves ``path`` as it was.

    Parameters
    ----------
    path
        The file to write.

    Yields
    ------
    Path
        Where to write the content (``.<name>.<random>.tmp`` in the same folder).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=store.temporary_prefix(path), suffix=store.TEMP_SUFFIX
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the site is read by other users
        _fault_point(path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never half."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_temporary_of(path: Path) -> list[Path]:
    """Remove the temporary files killed writes of ``path`` left beside it."""
    removed = []
    pattern = glob.escape(store.temporary_prefix(path)) + "*" + store.TEMP_SUFFIX
    for tmp in path.parent.glob(pattern):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def remove_temporary(root: Path, skip: Collection[str] = ()) -> list[Path]:
    """Remove the temporary files killed writers left anywhere under ``root``.

    Call it holding the lock of the command that writes under ``root``, so that no live
    writer's file is taken.

    Parameters
    ----------
    root
        The folder to clean (and every folder inside it).
    skip
        Names directly under ``root`` that another command owns and cleans: such a folder
        is not entered, and the temporary files of such a file are left alone.

    Returns
    -------
    list of Path
        The files removed.
    """
    removed = []
    if not root.is_dir():
        return removed
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        top = here == root
        dirs[:] = [d for d in dirs if d not in store.FOREIGN and not (top and d in skip)]
        for name in names:
            if store.is_temporary(name) and not (top and store.temporary_target(name) in skip):
                (here / name).unlink(missing_ok=True)
                removed.append(here / name)
    return removed


def write_csv(frame, path: Path) -> None:
    """``frame.to_csv(path, index=False)``, byte for byte, written by DuckDB where it can be.

    A table of 100,000 units is 1.5 s of CPU in pandas (each float formatted in Python) and
    0.6 s in DuckDB, whose output is the same text for numbers (shortest round trip, ``inf``,
    ``-0.0``, ``1e-05``), missing values (empty) and strings (quoted as pandas quotes them).
    Where the two would differ, pandas writes it: a single column, and any column that is
    not numbers or non-empty strings (booleans, dates, mixed objects, an empty string, which
    DuckDB quotes).
    """
    import pandas as pd

    def plain(column) -> bool:
        if column.dtype.kind in "fi":
            return True
        kind = pd.api.types.infer_dtype(column, skipna=True)
        return kind == "string" and not (column == "").any()

    if len(frame.columns) < 2 or not all(plain(frame[c]) for c in frame.columns):
        frame.to_csv(path, index=False)
        return
    import duckdb

    with duckdb.connect() as con:
        con.from_df(frame).write_csv(str(path))
