"""Settings from a file of ``NAME=value`` lines, for every process started from this checkout.

``manage.py`` (and the WSGI/ASGI entry points) read ``MARKETINGAI_ENV_FILE`` — by default
``var/marketingai.env``, which ``make run`` writes with the demo's variables — before Django
loads its settings, so a command run from another shell sees what the running demo sees. The
environment wins: a variable already set is never overridden. An empty ``MARKETINGAI_ENV_FILE``
reads nothing (the test suite sets it so). Pure: no Django.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

ENV_FILE_VARIABLE = "MARKETINGAI_ENV_FILE"
DEFAULT_ENV_FILE = Path(__file__).resolve().parent.parent / "var" / "marketingai.env"


def parse_env_lines(text: str) -> dict[str, str]:
    """``NAME=value`` per line; blank lines and ``#`` comments skipped; one pair of quotes removed."""
    values = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"line {number}: expected NAME=value, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def load_env_file(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Set the file's variables that ``environ`` lacks; the file read, or None."""
    environ = os.environ if environ is None else environ
    configured = environ.get(ENV_FILE_VARIABLE)
    if configured == "":
        return None
    path = Path(configured) if configured else DEFAULT_ENV_FILE
    if not path.is_file():
        if configured:
            raise FileNotFoundError(f"{ENV_FILE_VARIABLE} names {path}, which does not exist.")
        return None
    try:
        values = parse_env_lines(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    for name, value in values.items():
        environ.setdefault(name, value)
    return path
