"""A non-editable install carries every local app and the data files they read."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from django.conf import settings
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def packaged() -> set[str]:
    find = SETUPTOOLS["packages"]["find"]
    return set(
        find_packages(where=str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    )


def test_every_local_app_and_its_subpackages_are_packaged():
    local_apps = {app for app in settings.INSTALLED_APPS if (ROOT / app / "apps.py").exists()}
    app_dirs = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert local_apps == app_dirs  # every app directory is installed, and found here
    subpackages = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for app in app_dirs
        for p in (ROOT / app).rglob("__init__.py")
    }
    assert subpackages | {"marketingai"} <= packaged(), sorted(subpackages - packaged())


def test_data_files_inside_packages_are_declared_package_data():
    declared = SETUPTOOLS.get("package-data", {})
    undeclared = []
    for package in packaged():
        folder = ROOT / package.replace(".", "/")
        for path in folder.iterdir():
            if path.is_dir() and not (path / "__init__.py").exists() and path.name != "__pycache__":
                for data_file in path.rglob("*"):
                    relative = data_file.relative_to(folder)
                    if data_file.is_file() and not any(
                        relative.match(p) for p in declared.get(package, [])
                    ):
                        undeclared.append(f"{package}: {relative}")
    assert not undeclared


def test_a_built_wheel_holds_every_local_app_and_the_eval_dataset(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the work tree
    skip = shutil.ignore_patterns(
        ".git", ".venv", "tests", "docs", "bench", "var", "build", "*.egg-info", "__pycache__"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    [wheel] = tmp_path.glob("marketingai-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {p.parent.name for p in ROOT.glob("*/apps.py")} | {"marketingai"} <= top_level
    assert "inputs/migrations/0001_initial.py" in names
    assert "demo/data/trial_expiration_briefs.json" in names
