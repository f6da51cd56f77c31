"""Fit the matcher's stacker on the outside-written development questions and write bot/data/combination.json.

    python bench/fit_combination.py

The stacker (bot/thresholds.py fit_stacker) combines the lexical score and the jamo model's probability of
each candidate with their margins to the runner-up; it is fitted on the questions of every outside writer in
tests/data (heldout-*, the sealed sets of past rounds; never the newest round's sealed sets), each writer's
questions scored by the knowledge's index and a jamo model trained on the knowledge plus the *other*
writers' questions (as a new writer meets the shipped model). The writers' questions are also written to
bot/data/outside_questions.json: the shipped model trains on them (the image has no tests/data).
Rerun after a knowledge change of any size; the bench prints the leave-one-writer-out figure that says how
well this generalises to a new writer.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot import thresholds as fitting  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.live_knowledge import content_version  # noqa: E402


def main() -> int:
    start = time.perf_counter()
    kb = load_knowledge(REPO / "knowledge")
    writers = fitting.writer_questions(REPO / "tests" / "data")
    groups = fitting.writer_evidence(kb, writers)
    t = fitting.fit_stacker(fitting.join_evidence(list(groups.values())))
    sizes = {name: len(ev.expect) for name, ev in groups.items()}
    version = content_version(REPO / "knowledge")
    fitting.write_combination(t, kb, sizes, fitting.COMBINATION_FILE, version)
    fitting.write_outside_examples(writers)
    print(
        f"fitted on {sizes} in {time.perf_counter() - start:.1f} s: answer >= {t.answer:.3f}, "
        f"suggest >= {t.suggest:.3f}; wrote {fitting.COMBINATION_FILE.relative_to(REPO)} and "
        f"{fitting.OUTSIDE_FILE.relative_to(REPO)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
