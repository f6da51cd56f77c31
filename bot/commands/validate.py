"""`dockbot validate [DIR]`: every problem of a knowledge directory as `path:line: message`; exit 0 or 1.

Beyond what loading checks (bot/knowledge.py): every id of the shared topic list must exist, no example
question may look misfiled: asked of a model that never saw it (its grouped fold, bot/thresholds.py), it is
answered by another entry far more confidently than by its own, and no uncovered.yaml question may nearly
repeat an entry's example (loading catches only the exact copy).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.yamlfile import Problem


def validate_directory(directory: Path) -> tuple[list[Problem], str]:
    """(problems, summary line) for one knowledge directory (warnings: see `warnings_of`)."""
    from bot.knowledge import KnowledgeError, load_knowledge, missing_required_ids

    try:
        kb = load_knowledge(directory)
    except KnowledgeError as exc:
        return exc.problems, f"{len(exc.problems)} problem(s) in {directory}"
    from bot.live_knowledge import build_snapshot

    # Trains (or reuses) the learned model: a valid knowledge base is what `dockbot ask` loads next,
    # so it is left ready in the cache (bot/snapshot_cache.py).
    snapshot = build_snapshot(directory)
    kb, matcher = snapshot.kb, snapshot.matcher
    problems = missing_required_ids(kb)
    problems += self_check(kb, matcher)
    problems += covered_uncovered(kb)
    questions = sum(len(e.questions) for e in kb.entries)
    summary = (
        f"{len(kb.entries)} entries, {questions} example questions, {len(kb.synonyms)} synonym groups, "
        f"{len(kb.off_topic)} off-topic questions, {len(kb.uncovered_questions)} uncovered questions "
        f"({len(kb.uncovered)} topics), {len(kb.scenarios)} demos: "
        + (f"{len(problems)} problem(s)" if problems else "OK")
    )
    return sorted(problems), summary


def warnings_of(directory: Path, review_days: int) -> list[Problem]:
    """What validate reports without failing: entries due for review, drafts not ready to go live."""
    from bot.drafts import draft_problems
    from bot.knowledge import KnowledgeError, load_knowledge
    from bot.review import review_warnings, unverified
    from bot.yamlfile import display_path

    try:
        kb = load_knowledge(directory)
    except KnowledgeError:
        return draft_problems(directory)
    found = review_warnings(kb, review_days=review_days) + draft_problems(
        directory, (e.id for e in kb.entries)
    )
    never = unverified(kb)
    if never:
        found.append(
            Problem(
                display_path(directory),
                1,
                f"warning: {len(never)} of {len(kb.entries)} entries have no verified: date (and owner:), "
                f"e.g. {', '.join(never[:3])}",
            )
        )
    return found


def _version(directory: Path) -> str:
    from bot.live_knowledge import content_version

    return content_version(directory)


# Held out, another entry scores at least this much above the example's own entry: misfiled. On the
# 72-entry knowledge base (3,418 examples) no example reaches 0.8 (the largest margins, 0.6-0.77, are
# examples that straddle two topics); an example copied from another entry reaches 0.9.
MISFILED_MARGIN = 0.8


def self_check(kb, matcher=None) -> list[Problem]:
    """Example questions that a model trained without them answers with another entry by a wide margin.

    Asking the shipped matcher would prove nothing: its jamo model was trained on the very question and
    answers it with its label whatever it says. Each example is scored by its grouped fold's lexical index
    and jamo model (bot/thresholds.py fold_evidence), which never saw it or its near-paraphrases."""
    from bot.thresholds import fit_learned, fold_evidence, held_out_answers

    if matcher is None or matcher.model is None:
        model, thresholds = fit_learned(kb)
    else:
        model, thresholds = matcher.model, matcher.thresholds
    problems = []
    for held in held_out_answers(fold_evidence(kb, model, every=True), thresholds):
        if held.got < 0 or held.got == held.entry or held.score - held.own < MISFILED_MARGIN:
            continue
        entry, other = kb.entries[held.entry], kb.entries[held.got]
        question = entry.questions[held.question]
        line = entry.question_lines[held.question] if held.question < len(entry.question_lines) else 1
        problems.append(
            Problem(
                entry.path,
                line,
                f"example question '{question}' is answered by '{other.id}' (score {held.score:.2f}, its "
                f"own entry {held.own:.2f}) by a model that never saw it, not '{entry.id}'",
            )
        )
    return problems


# An uncovered question whose words match an entry's example at this rapidfuzz ratio (0-100) or above is
# one that entry answers. Both sides are compared as `grouping_key` (the matcher's cleaning, particles and
# question endings dropped), so "헬름 차트가 뭐예요?" and "헬름 차트 머에요" are the same words. On the
# 72-entry knowledge base the closest pairs are 83-86, different subjects in one frame ("오퍼레이터가
# reconcile 한다는 게 무슨 말" vs "reconcile 한다는 게 무슨 말이야").
NEAR_DUPLICATE_RATIO = 90.0


def covered_uncovered(kb) -> list[Problem]:
    """uncovered.yaml questions that nearly repeat an entry's example question, at the uncovered line.

    Negative data that an entry covers teaches the matcher to refuse what it should answer."""
    from rapidfuzz import fuzz, process

    from bot.knowledge import UNCOVERED_FILE
    from bot.question_groups import grouping_key
    from bot.yamlfile import read_yaml

    path = Path(kb.directory) / UNCOVERED_FILE
    if not kb.uncovered or not path.is_file():
        return []
    doc = read_yaml(path)
    examples = [(entry, i) for entry in kb.entries for i in range(len(entry.questions))]
    keys = [grouping_key(entry.questions[i]) for entry, i in examples]
    problems = []
    for topic, questions in kb.uncovered.items():
        for n, question in enumerate(questions):
            best = process.extractOne(
                grouping_key(question), keys, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE_RATIO
            )
            if best is None:
                continue
            entry, i = examples[best[2]]
            line = entry.question_lines[i] if i < len(entry.question_lines) else entry.line
            problems.append(
                Problem(
                    doc.path,
                    doc.line_of(("topics", topic, n)),
                    f"uncovered question '{question}' nearly repeats '{entry.questions[i]}', an example of "
                    f"'{entry.id}' ({entry.path}:{line}): that entry covers it, so move it there or drop it",
                )
            )
    return problems


def run_validate(directory: str | None, *, stdout: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    from bot.config import Settings

    settings = Settings.from_env()  # a malformed variable: bot/cli.py prints it, exit 2
    path = settings.knowledge_dir if directory is None else Path(directory)
    try:
        problems, summary = validate_directory(path)
        warnings = warnings_of(path, settings.review_days)
    except Exception as exc:  # validate must explain, never crash with a traceback
        print(f"{path}:1: validation failed unexpectedly: {type(exc).__name__}: {exc}", file=stdout)
        return 1
    for problem in [*problems, *warnings]:
        print(str(problem), file=stdout)
    print(summary, file=stdout)
    return 1 if problems else 0
