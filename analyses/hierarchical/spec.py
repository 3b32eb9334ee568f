"""The config keys of a ``hierarchical`` experiment (a leaf module: no cycle imports it back)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from analyses.core.base import BaseSpec
from analyses.core.inputs import MetricSpec


class Spec(BaseSpec):
    """Config keys of a ``hierarchical`` experiment.

    Raw rows (``arm``, ``control``, ``metric``), pre-summarised rows (``estimate``,
    ``std_error``, optionally ``users``), or a warehouse (``source``, ``assignments``, one
    ``[[experiments.metrics]]``, ``control``; ``unit`` and ``group`` are columns of the
    assignments).
    """

    analysis: Literal["hierarchical"]
    unit: str
    group: str | None = None
    arm: str | None = None
    control: str | int | None = None
    metric: str | None = None
    estimate: str | None = None
    std_error: str | None = None
    users: str | None = None
    assignments: str | None = Field(None, min_length=1)
    metrics: list[MetricSpec] = []
    min_users_per_arm: int = Field(2, ge=2)
    method: Literal["marginal", "full"] = "marginal"
    group_parameterisation: Literal["auto", "centred", "non_centred"] = "auto"
    unit_label: str = "unit"
    group_label: str = "group"
    metric_label: str = "effect"
    value_prefix: str = ""
    value_suffix: str = ""

    @model_validator(mode="after")
    def _one_input_kind(self) -> Spec:
        if self.source is not None:
            if not self.assignments or len(self.metrics) != 1 or self.control is None:
                raise ValueError(
                    "a warehouse experiment needs assignments, control and exactly one "
                    "[[experiments.metrics]]"
                )
            if any(v is not None for v in (self.arm, self.metric, self.estimate)):
                raise ValueError("arm, metric and estimate are for a data file")
            return self
        if self.assignments or self.metrics:
            raise ValueError("assignments and metrics need source = a warehouse source")
        raw = [self.arm, self.control, self.metric]
        summary = [self.estimate, self.std_error]
        if any(v is not None for v in summary):
            if not all(v is not None for v in summary) or any(v is not None for v in raw):
                raise ValueError(
                    "give either estimate and std_error (pre-summarised rows) "
                    "or arm, control and metric (raw rows), not a mix"
                )
        elif not all(v is not None for v in raw):
            raise ValueError(
                "give arm, control and metric (raw rows) or estimate and std_error "
                "(pre-summarised rows)"
            )
        return self

    @property
    def summarised(self) -> bool:
        """True when the data are one row per unit with an estimate and its error."""
        return self.estimate is not None
