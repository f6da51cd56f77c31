"""A small declarative validator for scenario YAML: frozen dataclasses whose fields carry a check.

Why not pydantic: `dockbot demo NAME` is benchmarked against a plain docker CLI script, and importing
pydantic plus building the models cost more start-up time than the whole validation needs. Errors carry
the location of the offending value so scenario.py can turn them into `path:line: message`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

Location = tuple[str | int, ...]
Check = Callable[[Any], Any]


class FieldError(Exception):
    """One or more problems, each (location relative to the validated mapping, message)."""

    def __init__(self, problems: list[tuple[Location, str]]):
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def checked(check: Check, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field validated by `check` (which returns the clean value or raises ValueError)."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={"check": check})
    return dataclasses.field(default=default, metadata={"check": check})


def text(*, max_length: int = 200, pattern: str | None = None, hint: str = "") -> Check:
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be text, not {_kind(value)}")
        if not value.strip():
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters; the limit is {max_length}")
        if compiled is not None and not compiled.fullmatch(value):
            raise ValueError(hint or f"must match {pattern}")
        return value

    return check


def choice(options: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, not {value!r}")
        return str(value)

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_kind(value)}")
    return value


def integer(*, low: int, high: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


def seconds(*, high: float) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number of seconds, not {_kind(value)}")
        if not 0 < value <= high:
            raise ValueError(f"must be more than 0 and at most {high:g}")
        return float(value)

    return check


def texts(item: Check, *, min_items: int = 0, max_items: int = 50, one_allowed: bool = False) -> Check:
    """A list of texts (or, with one_allowed, a single text meaning a list of one)."""

    def check(value: Any) -> tuple[str, ...]:
        if one_allowed and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(f"must be a list, not {_kind(value)}")
        if not min_items <= len(value) <= max_items:
            raise ValueError(f"must have {min_items} to {max_items} items, not {len(value)}")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        out = []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except ValueError as exc:
                problems.append(((index,), f"item {index + 1} {exc}"))
        if problems:
            raise FieldError(problems)
        return tuple(out)

    return check


def nested(cls: type, *, what: str) -> Check:
    def check(value: Any) -> Any:
        return build(cls, value, what=what)

    return check


def nested_list(cls: type, *, what: str, max_items: int) -> Check:
    def check(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise ValueError(f"must be a list, not {_kind(value)}")
        if len(value) > max_items:
            raise ValueError(f"has {len(value)} items; the limit is {max_items}")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        out = []
        for index, element in enumerate(value):
            try:
                out.append(build(cls, element, what=f"{what} {index + 1}"))
            except FieldError as exc:
                problems.extend(((index, *loc), message) for loc, message in exc.problems)
        if problems:
            raise FieldError(problems)
        return tuple(out)

    return check


def build(cls: type, raw: Any, *, what: str, unknown_hint: Callable[[str], str] | None = None) -> Any:
    """Validate mapping `raw` into dataclass `cls`; FieldError lists every problem with its location."""
    if not isinstance(raw, Mapping):
        raise FieldError([((), f"{what} must be a mapping, not {_kind(raw)}")])
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    problems: list[tuple[Location, str]] = []
    for key in raw:
        if key not in fields:
            extra = unknown_hint(str(key)) if unknown_hint else ""
            allowed = ", ".join(name for name in fields if name != "op")
            problems.append(((key,), f"{what}: unknown field '{key}'" + (extra or f" (allowed: {allowed})")))
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in raw:
            if field.default is dataclasses.MISSING:
                problems.append(((), f"{what}: missing field '{name}'"))
            continue
        check = field.metadata.get("check")
        try:
            values[name] = check(raw[name]) if check else raw[name]
        except FieldError as exc:
            problems.extend(((name, *loc), f"{what}: {name}: {message}") for loc, message in exc.problems)
        except ValueError as exc:
            problems.append(((name,), f"{what}: {name} {exc}"))
    if problems:
        raise FieldError(problems)
    try:
        return cls(**values)
    except ValueError as exc:  # cross-field rules in __post_init__
        raise FieldError([((), f"{what}: {exc}")]) from None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
