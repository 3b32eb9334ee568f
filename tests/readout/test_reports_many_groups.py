"""A pooling readout of many groups: the page shows the largest, the CSV beside it every one."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses.hierarchical.decide import GROUPS_COLOURED, GROUPS_SHOWN, groups_shown
from analyses.hierarchical.results import Group
from readout import bundle as bundles
from tests.pdf import pdf_text
from tests.programme_config import pooling_experiment
from tests.readout.running import run

#: More groups than a page shows; group ``g00`` is the largest, then ``g01`` and so on.
N_GROUPS = 45

CONFIG = pooling_experiment("many", "Many genres", "units.csv")


def group(name: str, units: int) -> Group:
    estimate = {"mean": 0.1, "hdi": (0.0, 0.2), "prob_positive": 0.9, "sd": 0.05}
    return Group.model_validate(
        {"group": name, "units": units, **estimate, "new_unit": {**estimate, "sd": 0.4}}
    )


def test_a_page_shows_every_group_up_to_the_limit_then_the_largest_in_name_order():
    few = [group(f"g{i}", 10) for i in range(GROUPS_SHOWN)]
    assert groups_shown(few) == few
    many = [group(f"g{i:03d}", 5 + (i % 7) * 10) for i in range(200)]
    shown = groups_shown(many)
    assert len(shown) == GROUPS_SHOWN
    assert [g.group for g in shown] == sorted(g.group for g in shown)  # their usual order
    smallest_shown = min(g.units for g in shown)
    assert all(g.units <= smallest_shown for g in many if g not in shown)
    # Ties among the equally large go by name.
    assert max(g.group for g in shown if g.units == smallest_shown) < min(
        g.group for g in many if g not in shown and g.units == smallest_shown
    )


@pytest.fixture(scope="module")
def readout(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("groups")
    rng = np.random.default_rng(5)
    sizes = np.linspace(40, 4, N_GROUPS).round().astype(int)  # g00 the largest
    genre = np.repeat([f"g{i:02d}" for i in range(N_GROUPS)], sizes)
    users = rng.integers(30, 3000, len(genre))
    se = 4.6 / np.sqrt(users)
    effect = rng.normal(0.3, 0.3, N_GROUPS)[np.searchsorted(np.unique(genre), genre)]
    pd.DataFrame(
        {
            "creator": [f"c{i}" for i in range(len(genre))],
            "genre": genre,
            "users": users,
            "estimate": effect + rng.normal(0, 0.4, len(genre)) + se * rng.normal(size=len(genre)),
            "std_error": se,
        }
    ).to_csv(root / "units.csv", index=False)
    (root / "experiments.toml").write_text(CONFIG)
    result = run(root / "experiments.toml", root / "reports", "--date", "2026-11-20")
    assert result.exit_code == 0, result.output
    return root / "reports" / "many" / "2026-11-20"


def test_every_group_is_in_the_csv_beside_the_report_with_the_bundles_numbers(readout):
    bundle = bundles.read(readout / "bundle.json")
    groups = pd.read_csv(readout / "groups.csv")
    assert {"key": "groups", "file": "groups.csv", "rows": N_GROUPS} in bundle["tables"]
    assert len(groups) == N_GROUPS
    by_name = {g["group"]: g for g in bundle["groups"]}
    for row in groups.itertuples():
        assert row.mean == pytest.approx(by_name[row.group]["mean"], rel=1e-12)
        assert row.hdi_low == pytest.approx(by_name[row.group]["hdi"][0], rel=1e-12)
        assert row.verdict == bundle["decision"]["groups"][row.group]


def test_the_page_lists_the_largest_groups_says_so_and_links_the_rest(readout):
    html = (readout / "report.html").read_text()
    section = html.split('<section id="groups">')[1].split("</section>")[0]
    assert section.count("<tr>") == GROUPS_SHOWN + 1  # the head and the shown groups
    assert f"the {GROUPS_SHOWN} of {N_GROUPS} genres with the most creators" in section
    assert 'href="groups.csv"' in section
    assert "numbers are in groups.csv)" in html  # the key point on the groups' verdicts
    shown = [f"g{i:02d}" for i in range(GROUPS_SHOWN)]
    assert all(f">{name}<" in section for name in shown)
    assert f">g{N_GROUPS - 1}<" not in section  # the smallest group is only in the CSV
    text = pdf_text(readout / "report.pdf")
    assert "groups.csv" in text


def test_the_charts_show_the_largest_groups_and_colour_no_more_than_the_palette(readout):
    chart = (readout / "fig-groups.svg").read_text()
    assert chart.count("g00") == 1 and f"g{N_GROUPS - 1}" not in chart
    # The names it shows (not the rasterised points' base64 bytes, where "g06" may occur).
    shrinkage = re.sub(r'href="data:[^"]*"', "", (readout / "fig-shrinkage.svg").read_text())
    # Its legend: the coloured groups and one grey entry for the others.
    assert f"{N_GROUPS - GROUPS_COLOURED} others" in shrinkage
    assert "g00" in shrinkage and f"g{GROUPS_COLOURED:02d}" not in shrinkage


def test_the_shrinkage_charts_unit_names_do_not_overlap_with_many_groups(readout):
    from tests.readout.test_pdf_layout import _overlapping, label_boxes

    boxes = label_boxes((readout / "fig-shrinkage.svg").read_text())
    assert len(boxes) >= 3, boxes  # the stories told, at least, are named
    assert not _overlapping(boxes)
