"""The JSON Schema of a hierarchical readout's results."""

from __future__ import annotations

from typing import Any

from analyses.core.base import INTERVAL_SCHEMA, PROB_SCHEMA, SUMMARY_SCHEMA

# --------------------------------------------------------------------------- schema

_SUMMARY_P = {
    "type": "object",
    "required": ["mean", "hdi", "prob_positive"],
    "properties": {
        "mean": {"type": "number"},
        "hdi": INTERVAL_SCHEMA,
        "prob_positive": PROB_SCHEMA,
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "required": ["units", "groups", "hyper", "baselines", "n_units", "average", "new_unit"],
    "properties": {
        "average": _SUMMARY_P,
        "new_unit": _SUMMARY_P,
        "n_units": {"type": "integer", "minimum": 3},
        "units": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "unit",
                    "group",
                    "n",
                    "raw_estimate",
                    "raw_se",
                    "mean",
                    "hdi",
                    "prob_positive",
                    "shrinkage",
                ],
                "properties": {
                    "unit": {"type": "string"},
                    "group": {"type": "string"},
                    "n": {"type": ["integer", "null"]},
                    "raw_estimate": {"type": "number"},
                    "raw_se": {"type": "number", "exclusiveMinimum": 0},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                    "prob_positive": PROB_SCHEMA,
                    "shrinkage": PROB_SCHEMA,
                },
            },
        },
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["group", "mean", "hdi", "prob_positive", "new_unit"],
            },
        },
        "hyper": {
            "type": "object",
            "required": ["mu", "sigma_unit"],
            "properties": {
                "mu": SUMMARY_SCHEMA,
                "sigma_group": SUMMARY_SCHEMA,
                "sigma_unit": SUMMARY_SCHEMA,
            },
        },
        "baselines": {
            "type": "object",
            "required": ["no_pooling", "complete_pooling"],
        },
    },
}
