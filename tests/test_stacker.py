"""The stacker: its features, the shipped coefficients file, and that the matcher scores as the fit did."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bot import snapshot_cache
from bot import thresholds as fitting
from bot.heldout import Labelled, evaluation_files, outside_writers
from bot.jamo_model import NEGATIVE
from bot.knowledge import load_knowledge
from bot.live_knowledge import build_snapshot
from bot.matcher import STACK_FEATURES, stack_features

REPO = Path(__file__).resolve().parent.parent
FIXTURE_KB = Path(__file__).parent / "fixtures"


def test_margins_and_agreement_per_question():
    # Two questions: the first has three candidates, the second one.
    lexical = np.array([0.6, 0.2, 0.5, 0.3])
    learned = np.array([0.1, 0.7, 0.05, 0.9])
    owner = np.array([0, 0, 0, 1])
    x = stack_features(lexical, learned, owner, np.array([0.2, 0.8]), np.array([0.0, 0.5]))
    col = {name: x[:, i] for i, name in enumerate(STACK_FEATURES)}
    assert col["lexical_margin"].tolist() == pytest.approx([0.1, -0.4, -0.1, 0.3])
    assert col["learned_margin"].tolist() == pytest.approx([-0.6, 0.6, -0.65, 0.9])
    assert col["lexical_first"].tolist() == [1, 0, 0, 1]
    assert col["learned_first"].tolist() == [0, 1, 0, 1]
    assert col["both_first"].tolist() == [0, 0, 0, 1]  # the scorers disagree on the first question
    assert col["negative"].tolist() == [0.2, 0.2, 0.2, 0.8]
    assert col["unseen"].tolist() == [0.0, 0.0, 0.0, 0.5]


def test_a_tie_for_first_has_no_margin():
    x = stack_features(np.array([0.4, 0.4]), np.array([0.3, 0.1]), np.array([0, 0]), np.zeros(1), np.zeros(1))
    assert x[:, STACK_FEATURES.index("lexical_margin")].tolist() == [0.0, 0.0]
    assert x[:, STACK_FEATURES.index("lexical_first")].tolist() == [1, 1]


def test_the_shipped_file_fits_the_shipped_knowledge():
    kb = load_knowledge(REPO / "knowledge")
    t = fitting.load_combination(kb)
    assert t is not None and len(t.stack) == len(STACK_FEATURES) + 1
    assert 0 < t.suggest <= t.answer < 1
    doc = json.loads(fitting.COMBINATION_FILE.read_text(encoding="utf-8"))
    # Fitted on outside writers' development questions only: never a sealed set of the current round.
    _dev, sealed = evaluation_files(REPO / "tests" / "data")
    assert set(doc["fitted_on"]) <= set(outside_writers(evaluation_files(REPO / "tests" / "data")[0]))
    assert not {p.stem for p in sealed} & set(doc["fitted_on"])


def test_a_knowledge_base_of_other_topics_is_fitted_on_its_own_folds():
    kb_dir = next(p.parent for p in sorted(FIXTURE_KB.rglob("*.yaml")) if p.parent.name != "demos")
    assert fitting.load_combination(load_knowledge(kb_dir)) is None


@pytest.mark.parametrize(
    "change",
    [
        {"features": ["lexical"]},
        {"stack": [1.0, 2.0]},
        {"answer": "NaN"},
        {"stack": "no"},
    ],
)
def test_a_malformed_file_is_ignored(tmp_path, change):
    kb = load_knowledge(REPO / "knowledge")
    doc = {**json.loads(fitting.COMBINATION_FILE.read_text(encoding="utf-8")), **change}
    path = tmp_path / "combination.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert fitting.load_combination(kb, path) is None


def test_round_files_sealed_and_development(tmp_path):
    for name in ("heldout-a", "dev-x", "sealed-r5", "sealed-r6", "sealed-r6b", "sealed-r7", "sealed-r7b"):
        (tmp_path / f"{name}.yaml").write_text("questions: []\n", encoding="utf-8")
    dev, sealed = evaluation_files(tmp_path, current_round=7)
    assert [p.stem for p in sealed] == ["sealed-r7", "sealed-r7b"]
    assert {p.stem for p in dev} == {"heldout-a", "dev-x", "sealed-r5", "sealed-r6", "sealed-r6b"}
    assert set(outside_writers(dev)) == {"heldout", "sealed-r5", "sealed-r6", "sealed-r6b"}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory):
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield build_snapshot(REPO / "knowledge")
    finally:
        if before is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = before


@pytest.mark.timeout(1800)
def test_the_matcher_scores_a_question_as_the_fit_scored_it(shipped):
    matcher = shipped.matcher
    assert matcher.thresholds.stack
    questions = [
        Labelled("볼륨 마운트 어떻게함", "volume-basics", "casual", "-"),
        Labelled("docker run -d -p 8080:80 nginx 했는데 접속이 안돼요", "port-publishing", "command", "-"),
        Labelled("오늘 점심 뭐 먹지", None, "offtopic", "-", kind="off-topic"),
    ]
    ev = fitting.outside_evidence(matcher, questions)
    scores = fitting.candidate_scores(ev, matcher.thresholds)
    for i, item in enumerate(questions):
        a, b = int(ev.ptr[i]), int(ev.ptr[i + 1])
        ranked = matcher.rank(item.question)
        assert ranked[0].score == pytest.approx(float(scores[a:b].max()))
        assert (
            matcher.index.entries[ranked[0].index].id
            == matcher.index.entries[int(ev.cand_entry[a + int(np.argmax(scores[a:b]))])].id
        )


@pytest.mark.timeout(1800)
def test_the_cache_keeps_the_stacker(shipped):
    m = shipped.matcher
    snapshot_cache.store(shipped.version, m.model, m.thresholds, m.text_tokens)
    cached = snapshot_cache.load(shipped.version, shipped.kb)
    assert cached is not None
    assert cached[1] == shipped.matcher.thresholds


def test_the_outside_questions_are_development_data_of_the_shipped_knowledge():
    kb = load_knowledge(REPO / "knowledge")
    doc = json.loads(fitting.OUTSIDE_FILE.read_text(encoding="utf-8"))
    dev, sealed = evaluation_files(REPO / "tests" / "data")
    assert set(doc["writers"]) <= set(outside_writers(dev))
    assert not {p.stem for p in sealed} & set(doc["writers"])
    assert sum(doc["writers"].values()) == len(doc["questions"])
    examples = fitting.outside_examples(kb)
    assert len(examples) == len(doc["questions"])
    texts, labels = fitting.training_set(kb)
    ids = {e.id for e in kb.entries}
    trained = set(zip(texts, labels, strict=True))
    # Each question is a training text of its entry (negatives of the NEGATIVE class), if that entry exists.
    for question, expect in examples[:50]:
        if expect is None or expect in ids:
            assert (question, expect or NEGATIVE) in trained


def test_a_knowledge_base_of_other_topics_does_not_learn_the_outside_questions():
    kb_dir = next(p.parent for p in sorted(FIXTURE_KB.rglob("*.yaml")) if p.parent.name != "demos")
    kb = load_knowledge(kb_dir)
    assert fitting.outside_examples(kb) == []
    own = sum(1 + len(e.questions) for e in kb.entries) + len(fitting.negative_questions(kb))
    assert len(fitting.training_set(kb)[0]) == own


@pytest.mark.parametrize("text", ["not json", '{"questions": 3}', '{"questions": [["only one"]]}'])
def test_a_malformed_outside_file_is_ignored(tmp_path, text):
    path = tmp_path / "outside_questions.json"
    path.write_text(text, encoding="utf-8")
    assert fitting.outside_examples(load_knowledge(REPO / "knowledge"), path) == []


def test_each_writer_is_scored_by_a_model_that_never_saw_it(monkeypatch):
    kb = load_knowledge(REPO / "knowledge")
    entry = kb.entries[0].id
    writers = {
        name: [Labelled(f"{name}의 질문 {i}", entry if i else None, "plain", "-") for i in range(3)]
        for name in ("w1", "w2", "w3")
    }
    seen: list[set[str]] = []

    def fake_train(kb_, outside=None):  # the training itself is tested in test_refit / test_matcher
        seen.append({q for q, _ in outside})
        return fitting_train(kb_, outside=outside)

    fitting_train = fitting.train_model
    monkeypatch.setattr(fitting, "train_model", fake_train)
    evidence = fitting.writer_evidence(kb, writers)
    assert list(evidence) == ["w1", "w2", "w3"]
    for name, trained_on in zip(writers, seen, strict=True):
        mine = {x.question for x in writers[name]}
        others = {x.question for other, items in writers.items() if other != name for x in items}
        assert not trained_on & mine and trained_on == others
        assert len(evidence[name].expect) == 3
