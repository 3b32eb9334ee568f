"""Read ``experiments.toml`` into validated experiment specs.

Every problem becomes a :class:`~readout.errors.ConfigError` naming the file, the
experiment and the key, and what to do about it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analyses.core.base import DELIVERY_KEYS, BaseSpec, Settings
from readout import registry, store
from readout.errors import ConfigError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class SettingsModel(Settings):
    """The optional ``[settings]`` table: the fit settings and the site's address."""

    site_url: str = ""


#: SQL dialects a source's queries may be written in (sqlglot's names).
DIALECTS = (
    "bigquery",
    "clickhouse",
    "databricks",
    "duckdb",
    "mysql",
    "oracle",
    "postgres",
    "redshift",
    "snowflake",
    "spark",
    "sqlite",
    "trino",
    "tsql",
)


class SourceSpec(BaseModel):
    """One ``[sources.<name>]`` table: a connection URL and the dialect of its queries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    dialect: Literal[DIALECTS] | None = None  # type: ignore[valid-type]
    #: Files (CSV or Parquet, relative to the config) a DuckDB or Spark source reads as tables.
    tables: dict[str, str] = {}
    #: Seconds one query may run before it is cancelled on the server (30 minutes).
    timeout_seconds: float = Field(1800.0, gt=0, le=7 * 86400)


class ProgrammeSpec(BaseModel):
    """The optional ``[programme]`` table: the prior learned from the programme's experiments.

    ``prior``: ``learned`` (the default; it is used for a primary metric once enough finished
    experiments share its kind, else the weak prior stays and the bundle says why) or
    ``weak`` (each experiment alone, as before). ``decide_with``: whether the verdict reads
    the programme's numbers or the experiment's own. ``history``: a CSV of finished
    experiments read before readout (``readout.programme.HISTORY_COLUMNS``), relative to
    the config file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prior: Literal["learned", "weak"] = "learned"
    decide_with: Literal["programme", "alone"] = "programme"
    history: str | None = None


class TopLevel(BaseModel):
    """The config file's top level."""

    model_config = ConfigDict(extra="forbid")

    settings: SettingsModel = SettingsModel()
    programme: ProgrammeSpec = ProgrammeSpec()
    sources: dict[str, SourceSpec] = {}
    experiments: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Experiment:
    """One configured experiment: its spec, where its data are, and its fit settings."""

    spec: BaseSpec
    #: The data file, or ``None`` for an experiment read from a source.
    data_path: Path | None
    settings: Settings
    #: The config file's folder: relative paths in the spec (``predict``) resolve from here.
    base_dir: Path
    source: SourceSpec | None = None
    config_path: Path | None = None

    @property
    def name(self) -> str:
        """The experiment's slug."""
        return self.spec.name

    def input_paths(self) -> dict[str, Path]:
        """Further files the fit reads, as named in the config, resolved from its folder."""
        analysis = registry.get(self.spec.analysis)
        return {name: self.base_dir / name for name in analysis.input_files(self.spec)}

    def data_label(self) -> str:
        """The data as the provenance names it: a file name, or the source (masked)."""
        if self.data_path is not None:
            return self.data_path.name
        from readout.masking import mask

        return f"source '{self.spec.source}' ({mask(self.source.url)})"

    def config_sha256(self) -> str:
        """Hash of everything in the config that changes this experiment's results.

        How a fit runs (cores, parallel jobs) and who receives the email are left out, so
        ``readout run -j 4`` after ``readout run`` refits nothing.
        """
        spec = self.spec.model_dump(mode="json", exclude=DELIVERY_KEYS)
        payload = {"spec": spec, "settings": self.settings.results_key()}
        if self.source is not None:
            # How long a query may run changes no result.
            payload["source"] = self.source.model_dump(exclude={"timeout_seconds"})
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Config:
    """A loaded config file."""

    path: Path
    settings: SettingsModel
    experiments: tuple[Experiment, ...]
    programme: ProgrammeSpec = ProgrammeSpec()
    #: The ``[programme]`` history file's finished experiments (``readout.programme.Past``).
    history: tuple[Any, ...] = ()


def _describe(error: dict, where: str) -> tuple[str, str]:
    """A pydantic error as (problem, fix) in the config's own terms."""
    key = ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{where}unknown key '{key}'", "remove it or check its spelling (see README)"
    if kind == "missing":
        return f"{where}required key '{key}' is missing", f"add {key} = ... (see README)"
    if kind == "value_error" and error["loc"][:1] == ("email",):
        address = str(error.get("input", "")).encode("unicode_escape").decode()
        reason = error["msg"].removeprefix("value is not a valid email address: ").rstrip(".")
        return (
            f"{where}email address '{address}' is not valid: {reason[:1].lower()}{reason[1:]}",
            'write each recipient as name@domain.tld, e.g. email = ["pm@example.com"]',
        )
    if kind == "value_error" and error["loc"][-1:] in (("title",), ("name",)):
        return (
            f"{where}key '{key}' {error['msg'].removeprefix('Value error, ')}",
            "write it on one line",
        )
    if kind == "value_error":
        message = error["msg"].removeprefix("Value error, ")
        inside = f" (in {key})" if key else ""
        return f"{where}{message}{inside}", "see README for the keys this analysis takes"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return (
            f"{where}key '{key}' is {error['input']!r}, which is not allowed",
            f"use one of {expected}",
        )
    return (
        f"{where}key '{key}' is {error.get('input')!r}: {error['msg'].lower()}",
        "correct the value (see README for each key's type)",
    )


def _first(exc: ValidationError, where: str) -> tuple[str, str]:
    errors = exc.errors()
    problem, fix = _describe(errors[0], where)
    if len(errors) > 1:
        problem += f" (and {len(errors) - 1} more problem(s) in the same entry)"
    return problem, fix


def _check_sources(sources: dict[str, SourceSpec], config: str) -> None:
    """Every source's URL names a scheme readout knows and can be read as written."""
    from readout.sources import url_problem

    for name, source in sources.items():
        found = url_problem(source.url)
        if found is not None:
            problem, fix = found
            raise ConfigError(config, f"[sources.{name}] url: {problem}", fix)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file.

    Raises
    ------
    ConfigError
        When the file is missing, is not TOML, or any key is unknown, missing or wrong.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "config file not found", "pass --config FILE or create it")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            source,
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} on line {line})",
            "save the file as UTF-8",
        ) from None
    except OSError as exc:
        raise ConfigError(
            source, f"cannot be read ({exc.strerror})", "check its permissions"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML ({exc})", "fix the syntax") from None
    try:
        top = TopLevel.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if errors[0]["loc"][:1] == ("experiments",) and errors[0]["type"] == "missing":
            raise ConfigError(
                source, "no [[experiments]] entries", "add at least one [[experiments]] table"
            ) from exc
        raise ConfigError(source, *_first(exc, "")) from exc
    _check_sources(top.sources, source)
    s = top.settings
    seen: dict[str, int] = {}
    experiments = []
    for i, entry in enumerate(top.experiments, start=1):
        label = entry.get("name", f"#{i}")
        where = f"experiment '{label}' ([[experiments]] #{i}): "
        analysis = entry.get("analysis")
        if analysis is None:
            raise ConfigError(
                source,
                f"{where}required key 'analysis' is missing",
                f"add analysis = one of {registry.available()}",
            )
        try:
            analysis_of = registry.get(str(analysis))
        except KeyError:
            raise ConfigError(
                source,
                f"{where}unknown analysis '{analysis}'",
                f"use one of {', '.join(registry.available())}",
            ) from None
        try:
            spec = analysis_of.spec.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(source, *_first(exc, where)) from exc
        if not SLUG.match(spec.name):
            raise ConfigError(
                source,
                f"{where}name '{spec.name}' is not a slug",
                "use lower-case letters, digits, '-' and '_' only (it names a folder)",
            )
        if spec.name in store.RESERVED:
            raise ConfigError(
                source,
                f"{where}name '{spec.name}' is the name of readout's own folder in the output",
                f"choose another name (not {' or '.join(store.RESERVED)})",
            )
        if spec.name in seen:
            raise ConfigError(
                source,
                f"duplicate experiment name '{spec.name}' (entries #{seen[spec.name]} and #{i})",
                "give each experiment a unique name",
            )
        seen[spec.name] = i
        overrides = {"ci_prob": spec.ci_prob, "seed": spec.seed}
        settings = Settings(
            **(
                s.model_dump(exclude={"site_url"})
                | {k: v for k, v in overrides.items() if v is not None}
                | ({} if "cores" in s.model_fields_set else {"cores": os.cpu_count() or 1})
            )
        )
        base_dir = path.parent.resolve()
        source_spec = None
        if spec.source is not None:
            source_spec = top.sources.get(spec.source)
            if source_spec is None:
                known = ", ".join(sorted(top.sources)) or "none"
                raise ConfigError(
                    str(path),
                    f"{where}source '{spec.source}' is not defined (sources: {known})",
                    f"add a [sources.{spec.source}] table with its url, or fix the name",
                )
        data_path = (base_dir / spec.data).resolve() if spec.data is not None else None
        experiments.append(
            Experiment(spec, data_path, settings, base_dir, source_spec, path.resolve())
        )
    history: tuple = ()
    if top.programme.history is not None:  # the programme's modules only where a file is read
        from readout import programme

        history = programme.read_history(top.programme.history, path)
    return Config(
        path=path.resolve(),
        settings=s,
        experiments=tuple(experiments),
        programme=top.programme,
        history=history,
    )
