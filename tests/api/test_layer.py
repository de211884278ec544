"""The api sits above the features: a feature importing it breaks the layer contract."""

from __future__ import annotations

import shutil

from tests.marketingai.test_layers import PACKAGES, ROOT, lint_imports


def test_a_feature_importing_the_api_breaks_its_contract(tmp_path):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "approvals" / "wrong_arrow.py").write_text("import api.views\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Nothing in the domain imports the api BROKEN" in result.stdout
    assert "approvals.wrong_arrow -> api.views" in result.stdout
