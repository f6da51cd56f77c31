"""The tokenizer's Korean word lists (bot/data/korean_words.yaml): content, so data, read and validated once
when bot/korean.py is imported; a malformed list fails with `path:line: message` naming the word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from bot.yamlfile import Problem, YamlFileError, read_yaml

WORDS_FILE = Path(str(files("bot").joinpath("data", "korean_words.yaml")))
LISTS = ("suffixes", "definition_suffixes", "question_words", "stopwords")
# Hangul syllables, compatibility jamo (ㅂ니다, ㅋㅋ) and lower-case Latin (the English filler words).
_WORD = re.compile(r"[가-힣\u3131-\u318ea-z]+")


@dataclass(frozen=True)
class KoreanWords:
    suffixes: frozenset[str]
    definition_suffixes: frozenset[str]
    question_words: frozenset[str]
    stopwords: frozenset[str]


def load_words(path: Path = WORDS_FILE) -> KoreanWords:
    """The four lists of `path`; YamlFileError listing every problem (unknown or missing list, a word
    that is not one word, a word twice in a list) with its line."""
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise YamlFileError([Problem(doc.path, 1, f"must map the lists {', '.join(LISTS)} to their words")])
    problems = [
        doc.problem((key,), f"unknown list '{key}' (the lists are {', '.join(LISTS)})")
        for key in doc.data
        if key not in LISTS
    ]
    lists: dict[str, frozenset[str]] = {}
    for name in LISTS:
        value = doc.data.get(name)
        if not isinstance(value, str) or not value.split():
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of((name,)) if name in doc.data else 1,
                    f"'{name}' needs words (a | block)",
                )
            )
            continue
        first_line: dict[str, int] = {}
        # A `|` block starts on the line after its key: word lines count from there.
        for offset, text in enumerate(value.splitlines(), start=doc.line_of((name,)) + 1):
            for word in text.split():
                if not _WORD.fullmatch(word):
                    problems.append(Problem(doc.path, offset, f"'{word}' in {name} is not a lower-case word"))
                elif word in first_line:
                    problems.append(
                        Problem(
                            doc.path,
                            offset,
                            f"'{word}' is twice in {name} (first at line {first_line[word]})",
                        )
                    )
                else:
                    first_line[word] = offset
        lists[name] = frozenset(first_line)
    if problems:
        raise YamlFileError(problems)
    return KoreanWords(**lists)
