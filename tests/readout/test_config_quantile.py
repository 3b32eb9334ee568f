"""A quantile metric's keys: what it needs and what it cannot be, refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from readout.cli import main
from tests.engines import DEMO
from tests.programme_config import PRIMARY_PURCHASE

#: The primary and a p90 guardrail on the demo warehouse (``test_quantile_sql`` reads them too).
METRICS = (
    PRIMARY_PURCHASE
    + """
[[experiments.metrics]]
name = "load_p90"
sql = "SELECT user_id AS unit, ts, load_ms AS value FROM page_loads"
aggregate = "mean"
kind = "quantile"
quantile = 0.9
higher_is_better = false
role = "guardrail"
"""
)

BASE = (
    """
[sources.warehouse]
url = "duckdb://{demo}"

[[experiments]]
name = "search"
title = "Search"
analysis = "ab_test"
source = "warehouse"
assignments = "SELECT user_id AS unit, variant AS arm, exposed_at, country FROM exposures"
control = "control"
"""
    + METRICS
)


def validate(tmp_path: Path, text: str):
    path = tmp_path / "experiments.toml"
    path.write_text(text.replace("{demo}", str(DEMO)))
    return CliRunner().invoke(main, ["validate", "--config", str(path)])


def test_a_quantile_guardrail_validates(tmp_path):
    result = validate(tmp_path, BASE)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (("quantile = 0.9", "quantile = 1.5"), ["metrics.1.quantile", "1.5", "less than 1"]),
        (("quantile = 0.9", "quantile = 0"), ["metrics.1.quantile", "greater than 0"]),
        (("quantile = 0.9\n", ""), ["needs quantile", "quantile = 0.9"]),
        (
            ('kind = "quantile"', 'kind = "continuous"'),
            ['quantile applies to kind = "quantile" only', "remove quantile"],
        ),
        (
            ('role = "primary"', 'role = "secondary"', 'role = "guardrail"', 'role = "primary"'),
            ["'load_p90'", "cannot be the primary metric", 'role = "guardrail"'],
        ),
        (
            ('control = "control"', 'control = "control"\nsegments = ["country"]'),
            ["segments cannot break down the quantile metric 'load_p90'", "remove segments"],
        ),
        (
            ("quantile = 0.9", "quantile = 0.9\ncovariate_days = 14"),
            ["cannot use a covariate", "remove covariate_days"],
        ),
        (("quantile = 0.9", "quantile = 0.9\ncap_percentile = 99"), ["is not capped"]),
    ],
)
def test_bad_quantile_settings_exit_2_naming_file_key_and_fix(tmp_path, change, fragments):
    text = BASE
    for old, new in zip(change[::2], change[1::2], strict=True):
        assert old in text
        text = text.replace(old, new, 1)
    result = validate(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert "experiments.toml" in result.output
    assert "search" in result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_a_lone_quantile_metric_would_be_primary_and_is_refused(tmp_path):
    start = BASE.index("[[experiments.metrics]]")
    end = BASE.index("[[experiments.metrics]]", start + 1)
    result = validate(tmp_path, BASE[:start] + BASE[end:])
    assert result.exit_code == 2
    assert "cannot be the primary metric" in result.output


def test_any_quantile_metric_as_primary_is_refused_not_only_the_first(tmp_path):
    second = BASE.split("[[experiments.metrics]]")[2].replace('"load_p90"', '"load_p50"')
    second = second.replace("quantile = 0.9", "quantile = 0.5").replace("guardrail", "primary")
    text = BASE.replace('role = "primary"', 'role = "secondary"', 1)
    result = validate(tmp_path, text + "\n[[experiments.metrics]]" + second)
    assert result.exit_code == 2, result.output
    assert "metric 'load_p50' is a quantile metric and cannot be the primary" in result.output
