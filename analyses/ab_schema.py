"""The JSON Schema of an A/B readout's results (published in ``docs/bundle.schema.json``)."""

from __future__ import annotations

from typing import Any

from analyses.base import (
    INTERVAL_SCHEMA,
    PROB_SCHEMA,
    SUMMARY_SCHEMA,
)

# --------------------------------------------------------------------------- schema

_TEST = {
    "type": "object",
    "required": ["test", "p_value", "ci"],
    "properties": {
        "test": {"type": "string"},
        "p_value": PROB_SCHEMA,
        "ci": INTERVAL_SCHEMA,
    },
}
_ARMS = {
    "type": "array",
    "minItems": 2,
    "items": {
        "type": "object",
        "required": ["name", "n", "mean", "hdi"],
        "properties": {
            "name": {"type": "string"},
            "n": {"type": "integer", "minimum": 1},
            "mean": {"type": "number"},
            "hdi": INTERVAL_SCHEMA,
            "prob_best": PROB_SCHEMA,
        },
    },
}
_COMPARISONS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["arm", "vs", "prob_better", "expected_loss", "lift_abs", "lift_rel"],
        "properties": {
            "arm": {"type": "string"},
            "vs": {"type": "string"},
            "prob_better": PROB_SCHEMA,
            "expected_loss": {"type": "number", "minimum": 0},
            "lift_abs": SUMMARY_SCHEMA,
            # null where a relative lift is not defined (the control's value is 0)
            "lift_rel": {"anyOf": [SUMMARY_SCHEMA, {"type": "null"}]},
            "lift_log": SUMMARY_SCHEMA,
            "prob_meaningful": PROB_SCHEMA,
            "prob_in_rope": PROB_SCHEMA,
            "prob_harm": PROB_SCHEMA,
            "frequentist": _TEST,
        },
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "required": ["arms", "comparisons", "srm", "frequentist", "metrics"],
    "properties": {
        "arms": _ARMS,
        "comparisons": _COMPARISONS,
        "srm": {
            "type": "object",
            "required": ["p_value", "ok"],
            "properties": {"p_value": {"type": ["number", "null"]}, "ok": {"type": "boolean"}},
        },
        "exposures": {
            "type": ["object", "null"],
            "required": ["units", "multiple_arms", "ok"],
        },
        # A warehouse experiment: the units and events its query left out, and why.
        "excluded": {
            "type": ["object", "null"],
            "required": ["units", "assigned", "share", "limit", "ok", "reasons", "events"],
            "properties": {
                "units": {"type": "integer", "minimum": 0},
                "assigned": {"type": "integer", "minimum": 0},
                "share": PROB_SCHEMA,
                "limit": PROB_SCHEMA,
                "ok": {"type": "boolean"},
                "cutoff": {"type": ["string", "null"]},
                "later": {"type": "integer", "minimum": 0},
                "reasons": {
                    "type": "object",
                    "required": [
                        "unit_missing",
                        "arm_missing",
                        "exposed_missing",
                        "exposed_future",
                    ],
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["metric", "unit_missing", "ts_missing", "events", "share"],
                        "properties": {
                            "metric": {"type": "string"},
                            "unit_missing": {"type": "integer", "minimum": 0},
                            "ts_missing": {"type": "integer", "minimum": 0},
                            "events": {"type": "integer", "minimum": 0},
                            "share": PROB_SCHEMA,
                        },
                    },
                },
            },
        },
        "frequentist": _TEST,
        "metrics": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "label",
                    "role",
                    "kind",
                    "higher_is_better",
                    "arms",
                    "comparisons",
                    "status",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "role": {"enum": ["primary", "secondary", "guardrail"]},
                    "arms": _ARMS,
                    "comparisons": _COMPARISONS,
                    "variance_reduction": {"type": "number", "minimum": 0, "maximum": 1},
                    "unadjusted": _COMPARISONS,
                    "parts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["arm", "vs", "paying", "per_payer"],
                            "properties": {
                                part: {
                                    "type": "object",
                                    "required": ["control", "treatment", "lift_rel", "prob_higher"],
                                    "properties": {
                                        "control": SUMMARY_SCHEMA,
                                        "treatment": SUMMARY_SCHEMA,
                                        "lift_rel": SUMMARY_SCHEMA,
                                        "prob_higher": PROB_SCHEMA,
                                    },
                                }
                                for part in ("paying", "per_payer")
                            },
                        },
                    },
                },
            },
        },
        "forecast": {
            "type": ["object", "null"],
            "required": ["units_per_day", "days", "horizons", "loss_keep", "simulations"],
            "properties": {
                "units_per_day": {"type": "number", "exclusiveMinimum": 0},
                "horizons": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["days", "units", "prob_decision", "verdicts"],
                        "properties": {"prob_decision": PROB_SCHEMA},
                    },
                },
            },
        },
        "segments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["metric", "segment", "level", "n", "own", "pooled", "prob_positive"],
                "properties": {
                    "own": {"anyOf": [SUMMARY_SCHEMA, {"type": "null"}]},
                    "pooled": SUMMARY_SCHEMA,
                    "prob_positive": PROB_SCHEMA,
                    "shrinkage": PROB_SCHEMA,
                    "few_units": {"type": "boolean"},
                },
            },
        },
        "segment_spread": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["metric", "segment", "levels", "sigma", "overall"],
                "properties": {"sigma": SUMMARY_SCHEMA, "overall": SUMMARY_SCHEMA},
            },
        },
        "queries": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "sql"]},
        },
    },
}
