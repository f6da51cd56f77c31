"""After an edit only the changed entries' classes are refitted (bot/thresholds.py refit_model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bot import thresholds as fitting
from bot.jamo_model import NEGATIVE, JamoModel
from bot.knowledge import load_knowledge

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(1800)  # trains the shipped knowledge twice (seconds each)


def coefficients(model: JamoModel, label: str) -> dict[int, float]:
    """Feature -> weight of one class (feature ids of the model's vocabulary)."""
    c = model.labels.index(label)
    owner = np.repeat(np.arange(len(model.vocabulary)), np.diff(model.coef_ptr))
    mine = model.coef_class == c
    return dict(zip(owner[mine].tolist(), model.coef_value[mine].tolist(), strict=True))


@pytest.fixture(scope="module")
def trained():
    kb = load_knowledge(REPO / "knowledge")
    return kb, fitting.train_model(kb)


def test_an_edit_refits_the_changed_entries_and_keeps_the_rest(trained):
    kb, model = trained
    entries = list(kb.entries)
    edited, renamed, removed, kept = entries[0], entries[3], entries[5], entries[10]
    entries[0] = dataclasses.replace(edited, questions=(*edited.questions, "이 항목에 새로 넣은 예시 질문"))
    entries[3] = dataclasses.replace(renamed, id="renamed-entry")
    del entries[5]
    after = dataclasses.replace(kb, entries=tuple(entries))
    refit = fitting.refit_model(after, kb, model)
    assert refit is not None
    assert refit.labels == (*(e.id for e in after.entries), NEGATIVE)
    # Untouched classes are copied, not refitted.
    assert coefficients(refit, kept.id) == coefficients(model, kept.id)
    assert removed.id not in refit.labels
    # The renamed entry was fitted under its new id: its own questions find it.
    for question in renamed.questions[:5]:
        probs = refit.probabilities(question)
        assert refit.labels[int(np.argmax(probs[:-1]))] == "renamed-entry"
    assert coefficients(refit, edited.id) != coefficients(model, edited.id)


def test_a_large_edit_is_left_to_the_full_training(trained):
    kb, model = trained
    share = int(fitting.REFIT_MAX_SHARE * len(kb.entries)) + 2
    entries = [
        dataclasses.replace(e, questions=(*e.questions, "새 예시 질문")) if i < share else e
        for i, e in enumerate(kb.entries)
    ]
    assert fitting.refit_model(dataclasses.replace(kb, entries=tuple(entries)), kb, model) is None
