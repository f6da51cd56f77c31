"""The tokenizer's word lists are data: the shipped file loads, and a broken edit is named by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.korean import QUESTION_WORDS, STOPWORDS, SUFFIXES
from bot.korean_words import WORDS_FILE, load_words
from bot.yamlfile import YamlFileError


def test_the_shipped_lists_load_and_are_the_tokenizers():
    words = load_words()
    assert WORDS_FILE.is_file()
    assert words.stopwords == STOPWORDS and words.question_words == QUESTION_WORDS
    assert words.suffixes == SUFFIXES and {"에서는", "을", "는"} <= SUFFIXES
    assert "뭐야" in QUESTION_WORDS and "알려줘" in STOPWORDS


def test_a_broken_list_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "korean_words.yaml"
    path.write_text(
        "suffixes: |\n  은 는\n  을 는\n"
        "definition_suffixes: |\n  이란\n"
        "question_words: |\n  뭐 What!\n"
        "stopwords: 3\n"
        "extra: |\n  x\n",
        encoding="utf-8",
    )
    with pytest.raises(YamlFileError) as caught:
        load_words(path)
    shown = [str(p).removeprefix(str(path)) for p in caught.value.problems]
    assert ":3: '는' is twice in suffixes (first at line 2)" in shown
    assert ":7: 'What!' in question_words is not a lower-case word" in shown
    assert any(line.startswith(":8: 'stopwords' needs words") for line in shown), shown
    assert any(line.startswith(":9: unknown list 'extra'") for line in shown), shown
