"""The result bundle: one readout's numbers as JSON, and its published JSON Schema."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from readout import registry
from readout.files import atomic_write_text

SCHEMA_VERSION = "1.0"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "bundle.schema.json"

KEY_PACKAGES = ("readout", "pymc", "pytensor", "arviz", "numpy", "scipy", "pandas")


COMMON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "schema_version",
        "experiment",
        "title",
        "analysis",
        "created_at",
        "ci_prob",
        "ci_kind",
        "data_sha256",
        "spec",
        "versions",
        "seed",
        "diagnostics",
        "decision",
        "figures",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "experiment": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "title": {"type": "string"},
        "analysis": {"type": "string"},
        "analysis_version": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "readout_date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "ci_prob": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1},
        "ci_kind": {"const": "hdi"},
        "data_file": {"type": "string"},
        "data_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "config_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "spec": {"type": "object"},
        "versions": {"type": "object", "additionalProperties": {"type": "string"}},
        "seed": {"type": "integer"},
        "run_seconds": {"type": "number", "minimum": 0},
        "diagnostics": {
            "type": "object",
            "required": ["r_hat_max", "ess_bulk_min", "divergences", "ok"],
            "properties": {
                "r_hat_max": {"type": "number"},
                "ess_bulk_min": {"type": "number"},
                "divergences": {"type": "integer", "minimum": 0},
                "ok": {"type": "boolean"},
                # Importance sampling (Student-t, mixture, regression): its Pareto k-hat and limit.
                "pareto_k": {"type": "number"},
                "pareto_k_limit": {"type": "number"},
            },
        },
        "decision": {
            "type": "object",
            "required": ["verdict", "reason_code"],
            "properties": {
                "verdict": {"type": "string"},
                "reason_code": {"type": "string", "pattern": "^[a-z_]+$"},
            },
        },
        "figures": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "file"],
                "additionalProperties": False,
                "properties": {"key": {"type": "string"}, "file": {"type": "string"}},
            },
        },
        "warnings": {"type": "array"},
        "key_numbers": {
            "type": "object",
            "required": ["label", "scale", "mean", "hdi", "n"],
            "properties": {
                # "absolute": an A/B lift whose relative form is not defined (a control at 0).
                "scale": {"enum": ["relative", "value", "absolute"]},
                "mean": {"type": "number"},
                "hdi": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                "prob": {"type": ["number", "null"]},
                "n": {"type": "integer"},
            },
        },
        "previous": {
            "type": ["object", "null"],
            "required": ["date", "data_sha256", "config_sha256", "verdict"],
        },
    },
}


def schema() -> dict[str, Any]:
    """The full bundle schema: the common part plus each analysis's results."""
    branches = []
    for name in registry.available():
        analysis = registry.get(name)
        part = analysis.result_schema
        decision = {"properties": {"verdict": {"enum": list(analysis.verdicts)}}}
        branches.append(
            {
                "if": {"properties": {"analysis": {"const": name}}},
                "then": {
                    "required": part["required"],
                    "properties": {**part["properties"], "decision": decision},
                },
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://readout.invalid/bundle.schema.json",
        "title": "readout result bundle",
        **COMMON_SCHEMA,
        "properties": {
            **COMMON_SCHEMA["properties"],
            "analysis": {"enum": registry.available()},
        },
        "allOf": branches,
    }


def validate(bundle: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``bundle`` matches the schema."""
    import jsonschema

    jsonschema.validate(bundle, schema(), format_checker=jsonschema.FormatChecker())


def versions() -> dict[str, str]:
    """Python and key package versions, for the provenance footer."""
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
    """Load a ``bundle.json``."""
    return json.loads(path.read_text(encoding="utf-8"))


def write_schema(path: Path = SCHEMA_FILE) -> None:
    """Publish the schema to ``docs/bundle.schema.json``."""
    atomic_write_text(path, json.dumps(schema(), indent=2) + "\n")
