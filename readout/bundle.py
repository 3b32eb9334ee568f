"""The result bundle: one readout's numbers as JSON, and its published JSON Schema.

A bundle is its analysis's typed model (``Analysis.bundle``: the envelope every bundle has,
the analysis's results and decision, :mod:`analyses.core.results`); the JSON Schema
published in ``docs/bundle.schema.json`` is generated from those models.
"""

from __future__ import annotations

import functools
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Union

from analyses.core.results import SCHEMA_VERSION as SCHEMA_VERSION
from analyses.core.results import Envelope
from readout import registry
from readout.files import atomic_write_text

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "bundle.schema.json"

KEY_PACKAGES = ("readout", "pymc", "pytensor", "arviz", "numpy", "scipy", "pandas")


def typed(bundle: dict[str, Any]) -> Envelope:
    """A bundle as its analysis's typed model (``pydantic.ValidationError`` if it is not one).

    Raises
    ------
    KeyError
        When the bundle names no analysis readout knows.
    """
    return registry.get(bundle["analysis"]).bundle.model_validate(bundle)


def schema() -> dict[str, Any]:
    """The bundle's JSON Schema, generated from every analysis's bundle model.

    One branch per analysis, chosen by ``analysis``.
    """
    return _schema(tuple(registry.available()))


@functools.cache
def _schema(names: tuple[str, ...]) -> dict[str, Any]:
    from pydantic import Field, TypeAdapter

    found = [registry.get(name).bundle for name in names]
    union = found[0] if len(found) == 1 else Union[tuple(found)]  # noqa: UP007
    adapter = TypeAdapter(Annotated[union, Field(discriminator="analysis")])
    generated = adapter.json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://readout.invalid/bundle.schema.json",
        "title": "readout result bundle",
        **generated,
    }


def _validator() -> Any:
    return _validator_of(tuple(registry.available()))


@functools.cache
def _validator_of(names: tuple[str, ...]) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(
        _schema(names), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate(bundle: dict[str, Any]) -> None:
    """Raise unless ``bundle`` is its analysis's bundle (``pydantic.ValidationError``).

    A run checks each bundle it writes against its analysis's model. The published schema is
    generated from the same models, so a bundle the model accepts conforms to it; generating
    the schema of every analysis and checking against it took a third of a second a process
    (pydantic's JSON Schema, jsonschema's import, every analysis imported), so that is left
    to :func:`conforms` and the tests, which check every demo bundle against the published
    file.
    """
    typed(bundle)


def conforms(bundle: dict[str, Any]) -> None:
    """Raise unless ``bundle`` passes the published JSON Schema and its analysis's model.

    ``jsonschema.ValidationError`` from the schema, ``pydantic.ValidationError`` from the
    model.
    """
    _validator().validate(bundle)
    typed(bundle)


def versions() -> dict[str, str]:
    """Python and key package versions, for the provenance footer (a new dict each call)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    """The versions, read once a process.

    A ``-j`` worker or a test process writes hundreds of readouts: reading the installed
    packages' metadata took 0.012 s each.
    """
    found = {"python": platform.python_version()}
    for package in KEY_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def dumps(bundle: dict[str, Any]) -> str:
    """Bundle JSON with ``schema_version`` first."""
    ordered = {"schema_version": bundle["schema_version"], **bundle}
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def read(path: Path) -> dict[str, Any]:
    """Load a ``bundle.json``, its data label masked.

    Runs mask the source's URL when they write ``data_file``; a bundle written before they
    did (or edited by hand) may still hold a password there, and every page, email and
    site card re-rendered from it would show it. Masking on read keeps it out of them all.
    """
    from readout.masking import scrub

    found = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(found, dict) and isinstance(found.get("data_file"), str):
        found["data_file"] = scrub(found["data_file"])
    return found


def write_schema(path: Path = SCHEMA_FILE) -> None:
    """Publish the schema to ``docs/bundle.schema.json``."""
    atomic_write_text(path, json.dumps(schema(), indent=2) + "\n")
