"""A trigger's declared mapping from payload paths to a run's inputs. Pure: no Django.

The mapping is a JSON object: each key is what the payload fills, each value a dotted path
into the payload (``data.report_date``; a number picks a list item, ``items.0.id``).

- ``as_of``: the date the run's data is judged as of, ``YYYY-MM-DD``;
- ``brief``: the brief the run uses, by its name or its id;
- ``inputs.<name>``: any JSON value, kept in the run's ``trigger`` section under ``inputs``.

A path absent from the payload leaves that input to its default (today, the trigger's brief);
the payload's JSON Schema is where a field is made required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

TARGETS = ("as_of", "brief")
INPUT_PREFIX = "inputs."
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
MISSING = object()


class MappingError(ValueError):
    """The payload cannot fill the run's inputs; the message says which path and why."""


@dataclass(frozen=True)
class MappedInputs:
    as_of: date | None = None
    brief: str | None = None  # a brief's name or id, as the payload gave it
    inputs: dict[str, Any] = field(default_factory=dict)


def mapping_problems(mapping: Any) -> list[str]:
    """What is wrong with a declared mapping, one sentence each; [] when it can be used."""
    if not isinstance(mapping, dict):
        return ["The mapping must be a JSON object of target -> payload path."]
    problems = []
    for target, path in mapping.items():
        if target not in TARGETS and not (
            target.startswith(INPUT_PREFIX) and INPUT_NAME.fullmatch(target[len(INPUT_PREFIX) :])
        ):
            problems.append(
                f"{target!r} is not something a payload can fill: use as_of, brief or inputs.<name>."
            )
        if not isinstance(path, str) or not PATH.fullmatch(path):
            problems.append(
                f"The path of {target!r} must be a dotted path into the payload, e.g. 'data.as_of'."
            )
    return problems


def value_at(payload: Any, path: str) -> Any:
    """The value at a dotted path, or MISSING."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def apply_mapping(mapping: dict[str, str], payload: Any) -> MappedInputs:
    """Fill a run's inputs from ``payload``; MappingError names the first path that cannot apply."""
    as_of: date | None = None
    brief: str | None = None
    inputs: dict[str, Any] = {}
    for target, path in mapping.items():
        value = value_at(payload, path)
        if value is MISSING or value is None:
            continue
        if target == "as_of":
            as_of = _date(value)
            if as_of is None:
                raise MappingError(
                    f"{path} (mapped to as_of) is {value!r}, not a date written YYYY-MM-DD."
                )
        elif target == "brief":
            if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value):
                raise MappingError(
                    f"{path} (mapped to brief) is {value!r}: give a brief's name or id."
                )
            brief = str(value)
        else:
            inputs[target[len(INPUT_PREFIX) :]] = value
    return MappedInputs(as_of=as_of, brief=brief, inputs=inputs)
