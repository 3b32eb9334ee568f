"""The config keys of a ``regression`` experiment (a leaf module: no cycle imports it back)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from analyses.core.base import BaseSpec
from analyses.core.inputs import RowsSource


class Spec(BaseSpec, RowsSource):
    """Config keys of a ``regression`` experiment."""

    analysis: Literal["regression"]
    target: str
    features: list[str] = Field(min_length=1)
    target_error: str | None = None
    count: str | None = None
    predict: str | None = None
    id_column: str | None = None
    target_label: str | None = None
    feature_labels: dict[str, str] = {}
    value_prefix: str = ""
    value_suffix: str = ""

    @model_validator(mode="after")
    def _one_error_source(self) -> Spec:
        if self.target_error is not None and self.count is not None:
            raise ValueError("give target_error or count (not both)")
        twice = [f for i, f in enumerate(self.features) if f in self.features[:i]]
        if twice:
            raise ValueError(f"features lists the column '{twice[0]}' twice")
        if self.target in self.features:
            raise ValueError("the target cannot also be a feature")
        return self
