"""The demo lives in an app of its own: no domain app imports it, and its endpoint is routed only while on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ("workflows", "inputs", "evals", "approvals")
RECIPIENTS = "/demo-cdp/segments/trial_ending_3_days/recipients.json"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_domain_module_imports_the_demo_or_holds_demo_code():
    offending = []
    for app in DOMAIN_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "demo" in path.stem:
                offending.append(f"{relative}: a demo module inside a domain app")
            demo_imports = sorted(
                n for n in _imported_modules(path) if n == "demo" or n.startswith("demo.")
            )
            if demo_imports:
                offending.append(f"{relative} imports {', '.join(demo_imports)}")
            if (
                'import_string("demo.' in path.read_text()
                or "import_string('demo." in path.read_text()
            ):
                offending.append(f"{relative} imports the demo by dotted path")
    assert not offending, offending


def test_the_demo_endpoint_is_not_routed_while_the_demo_cdp_is_off(settings):
    assert settings.MARKETINGAI_DEMO_CDP is False  # the test settings, as a server without the demo
    with pytest.raises(Resolver404):
        resolve(RECIPIENTS)


def test_the_demo_endpoint_is_routed_to_the_demo_app_while_the_demo_cdp_is_on(demo_cdp_on):
    match = resolve(RECIPIENTS)
    assert match.func.__module__ == "demo.cdp"
    assert match.url_name == "demo_cdp_recipients"


def test_the_demo_app_is_installed_after_the_domain_apps(settings):
    apps = list(settings.INSTALLED_APPS)
    assert apps.index("demo") > max(apps.index(app) for app in DOMAIN_APPS)
