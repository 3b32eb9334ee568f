from pathlib import Path

import pytest

from readout.config import load_config
from readout.errors import ConfigError

GOOD = """
[[experiments]]
name = "signup"
title = "Signup"
analysis = "ab_test"
data = "data/x.csv"
group = "arm"
control = "A"
metric = "converted"
metric_type = "binary"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiments.toml"
    path.write_text(text)
    return path


def test_a_good_config_loads_with_the_default_interval(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    (experiment,) = config.experiments
    assert experiment.settings.ci_prob == 0.94
    assert experiment.data_path == (tmp_path / "data" / "x.csv").resolve()
    assert experiment.spec.decision.min_prob_better == 0.97


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (GOOD + 'metrc = "x"\n', ["unknown key 'metrc'", "signup", "remove it"]),
        (
            GOOD.replace('metric_type = "binary"', 'metric_type = "count"'),
            ["metric_type", "'count'", "binary", "continuous"],
        ),
        (GOOD.replace('group = "arm"\n', ""), ["a data file needs group"]),
        (GOOD + GOOD, ["duplicate experiment name 'signup'", "#1", "#2"]),
        (GOOD.replace('"ab_test"', '"ab_tset"'), ["unknown analysis 'ab_tset'", "ab_test"]),
        (GOOD.replace('name = "signup"', 'name = "Sign up!"'), ["not a slug"]),
        (
            GOOD + "[experiments.decision]\nmin_prob_better = 1.5\n",
            ["decision.min_prob_better", "1.5"],
        ),
        ("[settings]\ndraws = 'many'\n" + GOOD, ["settings.draws", "'many'"]),
        ("[setings]\n" + GOOD, ["unknown key 'setings'"]),
        ("", ["no [[experiments]] entries"]),
        ("[[experiments]\n", ["not valid TOML"]),
    ],
)
def test_bad_configs_name_the_key_and_the_fix(tmp_path, text, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "Fix:" in message
    for fragment in fragments:
        assert fragment in message


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
