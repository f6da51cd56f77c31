"""Read admin-edited YAML files safely and remember the line of every value.

Every loader (knowledge entries, synonyms, demo scenarios) reports problems as `path:line: message`,
so this module turns a YAML file into plain Python data plus a map from each value's location
(a tuple of keys and list indexes) to its 1-based line number.

Why not `yaml.safe_load`: it silently keeps the last of two duplicate keys, it expands aliases (a
billion-laughs file explodes in memory once something walks it) and it forgets line numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Knowledge files are a few KiB; anything near this is a mistake or an attack, not content.
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
# The largest knowledge file (~66 KB) has ~1,400 YAML nodes; this many means a generated file, and pure-Python
# PyYAML would need tens of seconds and hundreds of MB to build it. Checked while streaming, before composing.
MAX_NODES = 100_000

Location = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it: ~15x faster, same events and line marks (cold start).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a file, printable as `path:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class YamlFileError(Exception):
    """The file cannot be read as YAML at all; `problems` says where."""

    def __init__(self, problems: Sequence[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class YamlDocument:
    """The data of one YAML file, with the line of each value and key."""

    path: str
    data: Any
    lines: Mapping[Location, int]

    def line_of(self, location: Iterable[str | int]) -> int:
        """The line of the value at `location`, or of its nearest parent that has one."""
        loc = tuple(location)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, location: Iterable[str | int], message: str) -> Problem:
        return Problem(self.path, self.line_of(location), message)


def display_path(path: Path) -> str:
    """A short path for messages: relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file. Raises YamlFileError with `path:line` problems instead of tracebacks."""
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise YamlFileError([Problem(shown, 1, f"cannot read file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        message = f"file is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,}"
        raise YamlFileError([Problem(shown, 1, message)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlFileError([Problem(shown, line, "file is not valid UTF-8")]) from None
    return parse_yaml(text, shown)


def parse_yaml(text: str, shown_path: str) -> YamlDocument:
    """Parse YAML text; `shown_path` is used in problems."""
    try:
        depth = nodes = 0
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                line = _line(event)
                raise YamlFileError([Problem(shown_path, line, "YAML aliases (*name) are not allowed here")])
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            # Stop early: PyYAML's scanner is quadratic in nesting depth (100,000 '[' take hours).
            if depth > MAX_DEPTH or nodes > MAX_NODES:
                what = "nested too deeply" if depth > MAX_DEPTH else f"more than {MAX_NODES:,} values"
                raise YamlFileError([Problem(shown_path, _line(event), f"YAML has {what}")])
        node = yaml.compose(text, Loader=_LOADER)
    except YamlFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or str(exc)
        raise YamlFileError([Problem(shown_path, line, f"YAML syntax error: {what}")]) from None
    except yaml.reader.ReaderError as exc:  # a control character: name it and its line, in one line
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        message = f"character U+{char:04X} is not allowed in YAML"
        raise YamlFileError([Problem(shown_path, line, message)]) from None
    except yaml.YAMLError as exc:
        raise YamlFileError([Problem(shown_path, 1, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise YamlFileError([Problem(shown_path, 1, "YAML is nested too deeply")]) from None
    lines: dict[Location, int] = {}
    problems: list[Problem] = []
    data = None if node is None else _build(node, (), lines, problems, shown_path)
    if problems:
        raise YamlFileError(problems)
    lines.setdefault((), 1)
    return YamlDocument(shown_path, data, lines)


def _line(event: yaml.Event) -> int:
    """The 1-based line an event starts on (the parser always gives its events a mark)."""
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def _build(node: yaml.Node, loc: Location, lines: dict, problems: list[Problem], path: str) -> Any:
    lines[loc] = node.start_mark.line + 1
    if len(loc) > MAX_DEPTH:
        problems.append(Problem(path, lines[loc], "YAML is nested too deeply"))
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(path, key_node.start_mark.line + 1, "keys must be plain text"))
                continue
            try:
                key = _scalar(key_node)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError):
                problems.append(Problem(path, key_node.start_mark.line + 1, "keys must be plain text"))
                continue
            if key == "<<":
                line = key_node.start_mark.line + 1
                problems.append(Problem(path, line, "YAML merge keys (<<) are not allowed"))
                continue
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            if key in out:
                first = lines.get((*loc, key), "?")
                problems.append(
                    Problem(
                        path, key_node.start_mark.line + 1, f"duplicate key '{key}' (first at line {first})"
                    )
                )
                continue
            out[key] = _build(value_node, (*loc, key), lines, problems, path)
            # A value is reported at its key's line: that is where an admin looks for "field x".
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), lines, problems, path) for i, item in enumerate(node.value)]
    try:
        return _scalar(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:  # unknown tag, 2001-13-45, !!int x
        what = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        problems.append(Problem(path, lines[loc], f"cannot read this value: {what}"))
        return None


def _scalar(node: yaml.Node) -> Any:
    # SafeConstructor alone resolves tags (int, bool, timestamps...) exactly as safe_load would.
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
