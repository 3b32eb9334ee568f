"""An installed wheel (not the source tree) renders reports: templates and fonts ship in it."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "bundles" / "signup-page.json"


@pytest.mark.skipif(
    shutil.which("uv") is None and not (ROOT / ".tools/bin/uv").exists(), reason="uv"
)
def test_a_built_wheel_carries_the_templates_and_renders_from_them(tmp_path):
    uv = shutil.which("uv") or str(ROOT / ".tools/bin/uv")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("readout-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("readout/templates/base.html.j2", "readout/templates/fonts/DejaVuSans.ttf"):
        assert needed in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    folder = tmp_path / "readout"
    folder.mkdir()
    bundle = json.loads(FIXTURE.read_text())
    (folder / "bundle.json").write_text(json.dumps(bundle))
    for fig in bundle["figures"]:
        (folder / fig["file"]).write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    script = (
        "import sys; from pathlib import Path; from readout import render; "
        "assert Path(render.TEMPLATES).is_relative_to(Path(sys.argv[1])), render.TEMPLATES; "
        "render.render_readout(Path(sys.argv[2]))"
    )
    # The wheel's packages first on the path, run from elsewhere: the source tree is not used.
    env = {**os.environ, "PYTHONPATH": str(site)}
    subprocess.run(
        [sys.executable, "-c", script, str(site), str(folder)], check=True, cwd=tmp_path, env=env
    )
    assert "Ship B." in (folder / "report.html").read_text()
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF-")
