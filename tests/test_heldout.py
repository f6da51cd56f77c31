"""Held-out questions (tests/data/heldout-*.yaml), written apart from the entries, scored with floors.

The floors sit a little under the figures measured in round 4 (docs/matching.md). Since round 5 these files
are development data (tuned on for four rounds); the honest estimate is the sealed set (docs/matching.md §8).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.heldout import load_labelled, score
from bot.live_knowledge import build_snapshot

# The first test trains the shipped knowledge (~30 s CPU; far longer on a busy machine).
pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parent.parent
FILES = sorted((REPO / "tests" / "data").glob("heldout-*.yaml"))

# Measured on the repo's knowledge/ (docs/matching.md), minus a small margin.
FLOOR_TOP1 = 0.95  # measured 95.6%
FLOOR_TOP3 = 0.985  # measured 99.3%
# A confident answer with the right entry: measured 94.8% in round 4; round 7's stacker (fitted on every
# outside writer, these files included) answers 93.7% here with 3 wrong answers instead of 5, and lifts the
# leave-one-writer-out figure 86.7 -> 89.5% (docs/matching.md "Round 7").
FLOOR_ANSWERED_RIGHT = 0.93
# The project's bar (issue 11: >= 95% of off-topic questions rejected), not a measured figure minus a margin.
# Round 5 measured 44/46: two "프로필 이미지 용량 줄이는 …" questions answered with multi-stage-build.
FLOOR_REJECTED = 0.95
MAX_ANSWERED_WRONG = 0.05  # measured 4.1%


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    if not FILES:
        pytest.fail("no held-out files in tests/data/heldout-*.yaml")
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    # What users get: lexical scorer + learned model, fitted on grouped folds (docs/matching.md §7).
    matcher = build_snapshot(REPO / "knowledge").matcher
    labelled = load_labelled(FILES)
    known = {e.id for e in matcher.kb.entries}
    unknown = [f"{x.where}: {x.expect}" for x in labelled if x.expect is not None and x.expect not in known]
    assert not unknown, f"held-out questions expect ids that don't exist: {unknown}"
    return score(matcher, labelled)


def test_there_are_enough_held_out_questions(result):
    assert result.in_scope + result.off_topic >= 200
    assert result.off_topic >= 30


def test_top1_and_top3(result):
    print(f"top-1 {result.rate('top1'):.3f}, top-3 {result.rate('top3'):.3f}")
    assert result.rate("top1") >= FLOOR_TOP1, "\n".join(result.misses)
    assert result.rate("top3") >= FLOOR_TOP3


def test_confident_answers_are_right_and_off_topic_is_rejected(result):
    assert result.rate("answered_right") >= FLOOR_ANSWERED_RIGHT, "\n".join(result.misses)
    assert result.rate("answered_wrong") <= MAX_ANSWERED_WRONG, "\n".join(result.misses)
    assert result.rate("rejected") >= FLOOR_REJECTED, "\n".join(m for m in result.misses if "off-topic" in m)
