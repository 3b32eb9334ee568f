"""Every analysis has everything it needs, found by its name; the suite names what is missing."""

import ast
import json
import re
from pathlib import Path

import pytest

from analyses.core.base import Analysis, Tone
from analyses.core.results import Decision, Results
from readout import registry, wording

ANALYSES = Path(__file__).resolve().parents[2] / "analyses"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / "test_wording.ambr"
NAMES = registry.available()


def fixture_bundles() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        found.setdefault(json.loads(path.read_text())["analysis"], []).append(path.stem)
    return found


def declared_in_source() -> list[str]:
    """The packages (and one-file modules) under analyses/ whose source declares ``ANALYSIS``.

    Read from the files, not from the registry: an analysis the registry missed, or a helper
    it mistook for one, shows up here.
    """
    found = []
    for path in sorted(ANALYSES.iterdir()):
        source = path / "__init__.py" if path.is_dir() else path
        if path.name.startswith("_") or source.suffix != ".py" or not source.is_file():
            continue
        tree = ast.parse(source.read_text())
        if any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "ANALYSIS" for t in node.targets)
            for node in tree.body
        ):
            found.append(path.stem)
    return found


def test_the_registry_lists_every_declared_analysis_and_no_helper_module():
    assert NAMES == declared_in_source()
    assert NAMES, "analyses/ declares no analysis"
    helpers = [p.stem for p in (ANALYSES / "core").glob("*.py")] + ["core"]
    assert "base" in helpers and "stats" in helpers
    for helper in helpers:
        assert helper not in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_analysis_declares_a_complete_contract(name):
    analysis = registry.get(name)
    assert isinstance(analysis, Analysis)
    assert analysis.name == name and analysis.version
    assert {"required", "properties"} <= set(analysis.result_schema)
    assert analysis.verdicts, f"{name} declares no verdicts"
    assert "withheld" in analysis.verdicts, f"{name} cannot withhold a verdict"
    for verdict, tone in analysis.verdicts.items():
        assert isinstance(tone, Tone), f"{name}: verdict {verdict} has no tone"
    assert analysis.figures, f"{name} declares no figures"


@pytest.mark.parametrize("name", NAMES)
def test_each_analysis_types_its_results_in_its_own_package(name):
    analysis = registry.get(name)
    for model in (analysis.results, analysis.decision):
        # In the analysis's package (or, for a flat one-module analysis, a module named for it).
        assert model.__module__.startswith((f"analyses.{name}.", f"analyses.{name}_")), (
            f"analyses/{name}/results.py must declare {model.__name__} (the typed results)"
        )
    assert issubclass(analysis.results, Results) and issubclass(analysis.decision, Decision)
    assert analysis.bundle.model_fields["analysis"].annotation.__args__ == (name,)


@pytest.mark.parametrize("name", NAMES)
def test_each_analysis_has_a_wording_module_with_every_piece(name):
    words = wording.module(name)
    missing = [piece for piece in wording.REQUIRED if not hasattr(words, piece)]
    assert not missing, f"readout/wording/{name}/ lacks {missing}"
    analysis = registry.get(name)
    assert set(words.VERDICT_LABELS) == set(analysis.verdicts), (
        f"readout/wording/{name}/ VERDICT_LABELS must label exactly {sorted(analysis.verdicts)}"
    )
    assert set(words.WARNINGS) == set(analysis.warning_codes), (
        f"readout/wording/{name}/ WARNINGS must word exactly {list(analysis.warning_codes)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_each_analysis_has_a_fixture_bundle_and_a_wording_snapshot(name):
    stems = fixture_bundles().get(name)
    assert stems, f"tests/fixtures/bundles/ has no bundle of analysis {name}"
    pinned = set(
        re.findall(r"test_wording_of_fixed_bundles_is_pinned\[(.+?)\]", SNAPSHOTS.read_text())
    )
    for stem in stems:
        assert stem in pinned, f"no wording snapshot of {stem}: run `make snapshots`"


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_an_analysis_draws_has_words(name):
    analysis = registry.get(name)
    drawn = set()
    for stem in fixture_bundles()[name]:
        bundle = json.loads((FIXTURES / f"{stem}.json").read_text())
        text = wording.readout_text(bundle)
        keys = {f["key"] for f in bundle["figures"]}
        assert keys <= set(analysis.figures), f"{stem} draws an undeclared figure"
        assert keys <= set(text.figures), f"{stem}: a figure lacks words"
        drawn |= keys
    missing = set(analysis.figures) - drawn
    assert not missing, f"no fixture bundle of {name} shows {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_every_warning_code_is_worded(name):
    """A warning an analysis emits becomes a sentence, never a KeyError at render time."""
    analysis = registry.get(name)
    stem = fixture_bundles()[name][0]
    bundle = json.loads((FIXTURES / f"{stem}.json").read_text())
    for code in analysis.warning_codes:
        record = {
            "code": code,
            "count": 2,
            "components": [3],
            "threshold": 0.02,
            "r_hat_max": 1.2,
            "minimum": 2,
            "empty_arm": 1,
            "column": "se",
            "examples": ["a", "b"],
            "segment": "country",
            "units": 3,
            "level": "(missing)",
            "share": 0.1,
            "last_exposure": "2026-11-10",
            "as_of": "2026-11-30",
        }
        text = wording.readout_text({**bundle, "warnings": [record]})
        assert len(text.warnings) == 1 and text.warnings[0]
