"""The layer contracts in pyproject.toml hold on the tree, and each one fails on a wrong arrow."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every package the contracts name, as pyproject.toml lists them (a copy of the tree needs them all).
PACKAGES = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
)
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", str(cwd / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lint_imports_keeps_every_layer_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


WRONG_ARROWS = [
    pytest.param(
        "workflows/wrong_arrow.py",
        "import approvals.selectors\n",
        "The kernel (workflows) imports no feature app BROKEN",
        "workflows.wrong_arrow -> approvals.selectors",
        id="kernel-imports-a-feature",
    ),
    pytest.param(
        "evals/wrong_arrow.py",
        "from approvals.models import Decision\n",
        "Feature apps are independent but for the service-level arrows listed here BROKEN",
        "evals.wrong_arrow -> approvals.models",
        id="feature-imports-another-features-models",
    ),
    pytest.param(
        "approvals/routing.py",
        "\nfrom django.db import models\n",
        "Pure modules import neither Django nor any models module BROKEN",
        "approvals.routing -> django",
        id="pure-module-imports-the-orm",
    ),
]


@pytest.mark.parametrize("path, code, broken, arrow", WRONG_ARROWS)
def test_a_wrong_arrow_breaks_its_contract(tmp_path, path, code, broken, arrow):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / path).open("a") as module:
        module.write(code)

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout
    assert arrow in result.stdout
    assert "1 broken" in result.stdout


def test_reviewer_acceptance_sums_the_registered_sources_without_importing_them(monkeypatch):
    from workflows import acceptance

    monkeypatch.setattr(acceptance, "_SOURCES", [])
    queues = acceptance.register_acceptance_source(lambda ids: {i: (1, 2) for i in ids})
    acceptance.register_acceptance_source(queues)  # registered once
    acceptance.register_acceptance_source(lambda ids: {ids[0]: (3, 3), ids[1]: (0, 0)})

    assert acceptance.reviewer_acceptance([7, 8]) == {7: (4, 5), 8: (1, 2)}
    monkeypatch.setattr(acceptance, "_SOURCES", [])
    assert acceptance.reviewer_acceptance([7]) == {}
