"""The JSON Schema of a regression readout's results."""

from __future__ import annotations

from typing import Any

from analyses.core.base import INTERVAL_SCHEMA, SUMMARY_SCHEMA

RESULT_SCHEMA: dict[str, Any] = {
    "required": ["coefficients", "predictions", "intercept", "sigma", "likelihood"],
    "properties": {
        "coefficients": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "mean", "hdi", "prob_positive"],
                "properties": {
                    "name": {"type": "string"},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                    "prob_positive": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
        "predictions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["row", "mean", "hdi"],
                "properties": {
                    "row": {"type": "string"},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                },
            },
        },
        "intercept": SUMMARY_SCHEMA,
        "sigma": {"oneOf": [SUMMARY_SCHEMA, {"type": "null"}]},
    },
}
