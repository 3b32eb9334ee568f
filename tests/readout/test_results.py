"""Typed results: every bundle is its analysis's model, and the published schema is theirs."""

import copy
import json
import math
from pathlib import Path

import jsonschema
import pydantic
import pytest

from analyses.core.results import MISSING, Record, Results
from readout import bundle as bundles
from readout import registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
STEMS = sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(stem: str) -> dict:
    return json.loads((FIXTURES / f"{stem}.json").read_text())


def same(a, b) -> bool:
    """JSON equality to the type: NaN equal to NaN, 400 not 400.0, a bool never a number."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("stem", STEMS)
def test_every_fixture_bundle_round_trips_through_its_model(stem):
    data = load(stem)
    model = registry.get(data["analysis"]).bundle.model_validate(data)
    dumped = model.model_dump(mode="json")
    assert dumped == data and same(dumped, data)
    # And through JSON text, as a bundle is written and read.
    assert json.loads(model.model_dump_json()) == data


@pytest.mark.parametrize("stem", STEMS)
def test_every_fixture_bundle_matches_the_generated_schema(stem):
    jsonschema.validate(load(stem), bundles.schema(), format_checker=jsonschema.FormatChecker())
    bundles.conforms(load(stem))


def test_the_published_schema_is_generated_from_the_models():
    schema = bundles.schema()
    names = {branch["$ref"].rsplit("/", 1)[-1] for branch in schema["oneOf"]}
    assert names == {registry.get(n).bundle.__name__ for n in registry.available()}
    assert set(schema["discriminator"]["mapping"]) == set(registry.available())
    for name in registry.available():
        generated = registry.get(name).bundle.model_json_schema(ref_template="#/$defs/{model}")
        assert schema["$defs"][registry.get(name).bundle.__name__] == {
            k: v for k, v in generated.items() if k != "$defs"
        }


def test_the_schema_and_the_model_refuse_what_no_analysis_writes():
    data = load("signup-page")
    for broken in (
        {**data, "analysis": "poisson"},  # no such analysis
        {**data, "surprise": 1},  # an unknown key
        {**data, "decision": {**data["decision"], "verdict": "fitted"}},  # another's verdict
        {**data, "arms": data["arms"][:1]},  # one arm compares nothing
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, bundles.schema())
        with pytest.raises((pydantic.ValidationError, KeyError)):
            bundles.typed(broken)


def test_a_field_left_out_stays_out_and_a_null_stays_null():
    three_arms = bundles.typed(load("signup-page"))
    assert three_arms.arms[0].prob_best is not MISSING  # each arm's chance of being best
    two_arms = bundles.typed(load("pricing-banner"))
    assert two_arms.arms[0].prob_best is MISSING
    assert "prob_best" not in two_arms.arms[0].model_dump(mode="json")
    control_zero = copy.deepcopy(load("signup-page"))
    control_zero["comparisons"][0]["lift_rel"] = None
    dumped = bundles.typed(control_zero).model_dump(mode="json")
    assert "lift_rel" in dumped["comparisons"][0] and dumped["comparisons"][0]["lift_rel"] is None


def test_results_are_frozen():
    typed = bundles.typed(load("signup-page"))
    with pytest.raises(pydantic.ValidationError):
        typed.arms[0].mean = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("name", registry.available())
def test_each_analysis_types_its_results_decision_and_bundle(name):
    analysis = registry.get(name)
    for model in (analysis.results, analysis.decision, analysis.diagnostics):
        assert issubclass(model, Record)
        assert model.model_config["frozen"] and model.model_config["extra"] == "forbid"
    assert issubclass(analysis.results, Results)
    verdicts = analysis.decision.model_fields["verdict"].annotation.__args__
    assert set(verdicts) == set(analysis.verdicts), f"{name}: decision verdicts and tones"
