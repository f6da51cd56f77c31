"""The pydantic schema of the knowledge YAML files (imported only when files are validated, not on a
cached start), and the translation of pydantic's errors into `path:line: message` problems."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.yamlfile import Problem, YamlDocument

MIN_QUESTIONS = 8
MAX_SOURCES = 3
_ID = r"^[a-z0-9][a-z0-9-]*$"
# An https address with a host and no spaces, quotes, <, > or | (it becomes a Slack link <url|label>, the
# "자세히 보기" of an answer); kept equal to knowledge._SOURCE_URL.
SOURCE_URL = r"^https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(/[^\s<>|\"']*)?$"


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _one_line(value: str) -> str:
    if "\n" in value.strip():
        raise ValueError("an example question must be a single line")
    return value


def verified_date(value: date | str) -> date:
    """`verified: 2026-12-01` (YAML reads it as a date) or the same text in quotes; a real calendar day."""
    if type(value) is date:
        return value
    if type(value) is str and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"'{value}' is not a date YYYY-MM-DD (when the answer was last checked)")


def _source_url(value: str) -> str:
    if re.fullmatch(SOURCE_URL, value) is None:
        raise ValueError(f"'{value}' is not an https:// address (a link to official documentation)")
    return value


class EntryModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=_ID, max_length=80)
    title: str = Field(min_length=1, max_length=200)
    answer: str = Field(min_length=1, max_length=4000)
    commands: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    demo: str | None = None
    keywords: list[str] = Field(default_factory=list)
    questions: list[str] = Field(min_length=MIN_QUESTIONS)
    sources: list[Annotated[str, AfterValidator(_source_url)]] = Field(
        default_factory=list, max_length=MAX_SOURCES
    )
    # Who keeps the answer true (a Slack user like U0123ABCD or a team name) and when it was last checked.
    owner: str | None = Field(default=None, min_length=1, max_length=80)
    verified: Annotated[date | str, AfterValidator(verified_date)] | None = None

    @field_validator("title", "answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return _text(value)

    @field_validator("keywords", "questions", "commands", "related")
    @classmethod
    def _items_not_blank(cls, values: list[str]) -> list[str]:
        for value in values:
            _text(value)
        return values

    @field_validator("questions")
    @classmethod
    def _single_line(cls, values: list[str]) -> list[str]:
        for value in values:
            if "\n" in value.strip():
                raise ValueError("an example question must be a single line")
        return values


class EntriesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    entries: list[EntryModel] = Field(min_length=1)


class SynonymsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    synonyms: dict[str, list[str]]


class OffTopicFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    questions: list[str] = Field(min_length=1)


Topic = Annotated[str, Field(pattern=_ID, max_length=80)]
Question = Annotated[str, AfterValidator(_text), AfterValidator(_one_line)]


class UncoveredFile(BaseModel):
    """In-domain questions no entry answers, by topic (helm: [...], istio: [...])."""

    model_config = ConfigDict(extra="forbid", strict=True)
    topics: dict[Topic, Annotated[list[Question], Field(min_length=1)]] = Field(min_length=1)


def validation_problems(doc: YamlDocument, error: ValidationError, base: tuple = ()) -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = (*base, *item["loc"])
        where = ".".join(str(part) for part in loc) or "file"
        if item["type"] == "extra_forbidden":
            message = f"unknown field '{loc[-1]}'"
        elif item["type"] == "missing":
            message = f"missing field '{loc[-1]}'"
        elif item["type"] == "string_type":
            message = f"{where}: must be text, got {type(item.get('input')).__name__} (put it in quotes)"
        else:
            message = f"{where}: {item['msg']}"
        # A missing field is reported at its parent (the entry), everything else at the value itself.
        at = loc[:-1] if item["type"] == "missing" else loc
        problems.append(doc.problem(at, message))
    return problems
