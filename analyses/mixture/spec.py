"""The config keys of a ``mixture`` experiment (a leaf module: no cycle imports it back)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from analyses.core.base import BaseSpec
from analyses.core.inputs import RowsSource


class Spec(BaseSpec, RowsSource):
    """Config keys of a ``mixture`` experiment."""

    analysis: Literal["mixture"]
    value: str
    components: int | list[int] = Field(2)
    value_label: str | None = None
    unit_label: str = "observation"
    component_labels: list[str] = []
    value_prefix: str = ""
    value_suffix: str = ""

    @field_validator("components")
    @classmethod
    def _positive(cls, value: int | list[int]) -> int | list[int]:
        counts = value if isinstance(value, list) else [value]
        if not counts or any(k < 1 or k > 10 for k in counts):
            raise ValueError("components must be a whole number from 1 to 10, or a list of them")
        twice = [k for i, k in enumerate(counts) if k in counts[:i]]
        if twice:
            raise ValueError(f"components lists {twice[0]} twice")
        return sorted(value) if isinstance(value, list) else value

    @property
    def counts(self) -> list[int]:
        """The component counts to fit."""
        return self.components if isinstance(self.components, list) else [self.components]
