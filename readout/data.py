"""An experiment's data: open its engine, fetch what its analysis asks for, fingerprint it.

A data file is hashed (its bytes decide whether anything changed, without a query); a
warehouse's data are fingerprinted by the SQL that ran and the numbers it returned, so a
scheduled re-run costs one aggregate query and refits only when the numbers changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analyses.core.inputs import Experiment as ExperimentPart
from analyses.core.inputs import Fetched, Request, Rows, Summary
from readout import registry, store
from readout.errors import DataError
from readout.masking import mask
from readout.queries import Where, fetch
from readout.sources import Engine, open_file, open_source

if TYPE_CHECKING:
    import pandas as pd

    from readout.config import Experiment


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_columns(request: Request) -> tuple[str, ...]:
    """Columns a request reads as text (arm labels, units, groups)."""
    found = []
    for part in request.values():
        columns = part.columns if isinstance(part, Rows) else ()
        if isinstance(part, Summary):
            columns = part.by + part.checks
        found += [c.name for c in columns if c.kind == "text"]
    return tuple(dict.fromkeys(found))


def where_of(experiment: Experiment) -> Where:
    """What the experiment reads, and how messages name it."""
    spec = experiment.spec
    if experiment.data_path is not None:
        return Where(file=True, label=str(experiment.data_path), experiment=spec.name)
    source = experiment.source
    label = f"experiment '{spec.name}', source '{spec.source}' ({mask(source.url)})"
    return Where(
        file=False,
        table=getattr(spec, "table", None),
        sql=getattr(spec, "sql", None),
        label=label,
        experiment=spec.name,
    )


#: The sources' engines kept open for a whole run (``None``: each experiment opens its own).
_SHARED: dict[tuple, Engine] | None = None


def share_engines() -> None:
    """Keep each source's engine open for the rest of this process (a run's pool workers).

    The engines close when the process ends.
    """
    global _SHARED
    _SHARED = {}


@contextmanager
def shared_engines() -> Iterator[None]:
    """Inside, the experiments on one source share one open engine; closed on leaving."""
    global _SHARED
    previous, _SHARED = _SHARED, {}
    try:
        yield
    finally:
        opened, _SHARED = _SHARED, previous
        for engine in opened.values():
            engine.close()


def source_key(experiment: Experiment) -> tuple:
    """What makes two experiments' sources one: they share an open engine and a batch."""
    source = experiment.source
    return (
        experiment.spec.source,
        source.url,
        source.dialect,
        tuple(sorted(source.tables.items())),
        str(experiment.base_dir),
        str(experiment.config_path),
        source.timeout_seconds,
    )


@contextmanager
def engine_of(experiment: Experiment, request: Request) -> Iterator[Engine]:
    """The open engine of an experiment's data (closed afterwards).

    Inside :func:`shared_engines` (or after :func:`share_engines`) a source's engine is
    opened once and kept for the next experiment on it; one that raised is closed and
    opened anew next time.
    """
    if experiment.data_path is None and _SHARED is not None:
        key = source_key(experiment)
        engine = _SHARED.get(key)
        if engine is None:
            engine = _open(experiment, request)
            _SHARED[key] = engine
        try:
            yield engine
        except BaseException:
            _SHARED.pop(key, None)
            engine.close()
            raise
        return
    engine = _open(experiment, request)
    try:
        yield engine
    finally:
        engine.close()


def _open(experiment: Experiment, request: Request) -> Engine:
    if experiment.data_path is not None:
        engine = open_file(experiment.data_path, text_columns(request))
    else:
        source = experiment.source
        engine = open_source(
            experiment.spec.source,
            source.url,
            source.dialect,
            source.tables,
            experiment.base_dir,
            str(experiment.config_path),
            source.timeout_seconds,
        )
    return engine


@dataclass(frozen=True)
class Loaded:
    """An experiment's fetched data and the SQL that fetched it."""

    fetched: Fetched
    queries: list[dict[str, str]]
    fingerprint: str


def fingerprint(fetched: Fetched, queries: list[dict[str, str]]) -> str:
    """A hash of the SQL that ran and every number and label it returned."""
    digest = hashlib.sha256()
    for query in queries:
        digest.update(query["sql"].encode())
    for name in sorted(fetched.parts):
        for column in sorted(fetched.parts[name]):
            values = fetched.parts[name][column]
            digest.update(f"{name}.{column}".encode())
            if values.dtype == object:
                digest.update("\x1f".join(map(str, values)).encode())
            else:
                digest.update(np.ascontiguousarray(_significant(values)).tobytes())
    digest.update(repr(sorted(fetched.extras.items())).encode())
    return digest.hexdigest()


def _significant(values: np.ndarray, bits: int = 40) -> np.ndarray:
    """Numbers rounded to about 12 significant digits.

    A warehouse adds in parallel, in whatever order its threads finish, so a sum can differ
    in its last bits from one run to the next; rounding the mantissa keeps unchanged data
    from looking changed.
    """
    mantissa, exponent = np.frexp(np.asarray(values, dtype=float))
    return np.ldexp(np.round(mantissa * 2.0**bits) / 2.0**bits, exponent)


def cutoff_of(as_of: date | None) -> datetime | None:
    """The cut-off of a readout as of a day: the next midnight UTC (naive, in UTC)."""
    if as_of is None:
        return None
    return datetime.combine(as_of + timedelta(days=1), time())


def planned_end(spec, fetched: Fetched) -> date | None:
    """The planned last day of an experiment with ``planned_days``, else ``None``.

    Day 1 is its ``start``, else the day (UTC) of the first exposure the data hold.
    """
    days = getattr(spec, "planned_days", None)
    if not days:
        return None
    start = getattr(spec, "start", None)
    if start is None:
        firsts = [
            e["first_exposure"]
            for e in fetched.extras.values()
            if isinstance(e, dict) and e.get("first_exposure") == e.get("first_exposure")
        ]
        if not firsts:
            return None
        start = datetime.fromtimestamp(min(firsts), UTC).date()
    return start + timedelta(days=days - 1)


def as_of_text(as_of: date | None) -> str:
    """The bundle's ``as_of``: the day given, or this moment (UTC, to the second)."""
    if as_of is not None:
        return as_of.isoformat()
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def fetch_data(
    experiment: Experiment,
    output: Path | None,
    write_cache: bool = True,
    cutoff: datetime | None = None,
    as_of: date | None = None,
) -> Loaded:
    """Check and fetch everything an experiment's analysis asks for.

    ``as_of``: the day the data are read as of (``readout run --as-of``): exposures and
    events before the next midnight UTC, cut in the engine's SQL; ``None`` is the time of
    the run. ``cutoff``: an explicit moment instead (the same cut, to the second).

    Raises
    ------
    DataError
        Bad data or SQL (exit 2), naming the file or the source and the experiment.
    ConnectionError
        A source that cannot be reached (exit 1 for this experiment).
    """
    if as_of is not None and cutoff is None:
        cutoff = cutoff_of(as_of)
    stated = as_of_text(as_of) if cutoff is None or as_of is not None else cutoff.isoformat()
    analysis = registry.get(experiment.spec.analysis)
    request = analysis.request(experiment.spec)
    where = where_of(experiment)
    if where.file:
        where = replace(where, time_column=getattr(experiment.spec, "time_column", None))
        if where.time_column is not None:
            where = replace(where, cut_at=cutoff)
    cache = store.query_cache(output) if output is not None else None
    files: dict[str, Engine] = {}
    try:
        for name, path in experiment.input_paths().items():
            part = next(
                (p for p in request.values() if isinstance(p, Rows) and p.input == name), None
            )
            if part is not None:
                if not path.is_file():
                    raise DataError(
                        str(path),
                        f'file not found (from {_key_of(experiment, name)} = "{name}")',
                        "check the path, which is relative to the config file",
                    )
                files[name] = open_file(path, text_columns({name: part}))
        until = None
        with engine_of(experiment, request) as engine:

            def read(cut: datetime | None):
                return fetch(
                    engine,
                    request,
                    where,
                    experiment.settings.max_rows,
                    cache,
                    files,
                    write_cache,
                    cut,
                )

            fetched, queries = read(cutoff)
            end = planned_end(experiment.spec, fetched)
            asked = as_of or datetime.now(UTC).date()
            if end is not None and asked > end and (as_of is not None or cutoff is None):
                # After its planned end an experiment's verdict stands: it is read as of the
                # end (more looks would spend error the design did not plan for).
                fetched, queries = read(cutoff_of(end))
                until = end.isoformat()
    finally:
        for engine in files.values():
            engine.close()
    fetched = replace(fetched, as_of=stated, until=until)
    if where.file and where.time_column is None and as_of is not None:
        fetched = replace(fetched, notes=[*fetched.notes, whole_file_note(experiment, as_of)])
    if any(isinstance(p, ExperimentPart) for p in request.values()):
        fetched = replace(fetched, source=where.label, row_numbers=False)
    return Loaded(fetched, queries, fingerprint(fetched, queries))


def whole_file_note(experiment: Experiment, as_of: date) -> dict[str, str]:
    """The note of a data file read as of a day without a ``time_column``: read whole."""
    return {
        "code": "as_of_whole_file",
        "file": experiment.data_path.name if experiment.data_path else "",
        "as_of": as_of.isoformat(),
    }


def _key_of(experiment: Experiment, file: str) -> str:
    spec = experiment.spec.model_dump()
    return next((k for k, v in spec.items() if v == file), "a key")


def read_truth(path: Path) -> pd.DataFrame:
    """A file of known true effects (CSV or Parquet), for ``readout recovery``.

    Raises
    ------
    DataError
        When the file is missing or is neither CSV nor Parquet.
    """
    import pandas as pd

    if not path.is_file():
        raise DataError(
            str(path), "the file does not exist", "give the path of a CSV or Parquet file"
        )
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise DataError(
        str(path), "is neither a CSV nor a Parquet file", "give a .csv or .parquet file"
    )
