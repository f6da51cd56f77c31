"""Benchmark of the Q&A matcher (prints figures; not a test).

    python bench/bench_matcher.py [--sizes 1000,10000] [--repeat 3] [--dev FILE ...] [--misses]

Prints, for the development questions (tests/data/heldout-*.yaml, dev-*.yaml, every sealed-rN.yaml but the
newest, and any --dev files) and, side by side, the sealed set (only the newest tests/data/sealed-rN.yaml;
only figures and entry-id confusion pairs, never its questions): top-1, top-3,
answered right/wrong, rejection of off-topic and of uncovered questions, per style, and the entry pairs most
often swapped; the grouped-fold figures the weights and thresholds were fitted on; training time; latency
p50/p99 per question with the knowledge base as is and replicated to 1,000 and 10,000 entries (same
vocabulary, so it measures cost, not accuracy); cold start of `dockbot ask`; RSS of a `dockbot serve`-like
process (the Slack app imported, the knowledge loaded from a warm cache, 100 questions answered).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot import thresholds as fitting  # noqa: E402
from bot.heldout import Labelled, Score, evaluation_files, load_labelled, score  # noqa: E402
from bot.knowledge import KnowledgeBase  # noqa: E402
from bot.live_knowledge import build_snapshot  # noqa: E402
from bot.matcher import Matcher, Thresholds  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def replicate(kb: KnowledgeBase, size: int) -> KnowledgeBase:
    entries = []
    copy = 0
    while len(entries) < size:
        for entry in kb.entries:
            if len(entries) >= size:
                break
            # The shipped entries keep their ids (a knowledge base grown from them), the copies get new ones.
            entries.append(entry if copy == 0 else dataclasses.replace(entry, id=f"{entry.id}~{copy}"))
        copy += 1
    return dataclasses.replace(kb, entries=tuple(entries))


def latency(matcher: Matcher, questions: list[str], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        for question in questions:
            start = time.perf_counter()
            matcher.match(question)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), percentile(times, 0.99)


def cold_start(question: str, cache: str) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    env.pop("SLACK_BOT_TOKEN", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", question], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and json.loads(done.stdout)["question"] == question, done.stderr
    return elapsed


def wait_for_training(cache: str, limit_s: float = 300.0) -> float:
    """Seconds until the detached training of a first `dockbot ask` has cached the model."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        if list((Path(cache) / "dockbot").glob("model-*.json")):
            break
        time.sleep(0.05)
    return time.perf_counter() - start


SERVE_LIKE = """
import sys
import handlers.server  # the Slack door's imports
from bot.live_knowledge import LiveKnowledge
live = LiveKnowledge.load(sys.argv[1])
questions = [q for e in live.current.kb.entries for q in e.questions][:100]
for q in questions:
    live.current.matcher.match(q)
# VmHWM (peak RSS of this process image): ru_maxrss would include the benchmark that forked it.
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024)
"""


def serve_like_rss(cache: str) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    done = subprocess.run(
        [sys.executable, "-c", SERVE_LIKE, str(REPO / "knowledge")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(num: int, den: int) -> str:
    return f"{num / den:6.1%} ({num}/{den})" if den else "     -"


def figure_rows(result: Score) -> list[tuple[str, str]]:
    return [
        ("top-1", _pct(result.top1, result.in_scope)),
        ("top-3", _pct(result.top3, result.in_scope)),
        ("answered right", _pct(result.answered_right, result.in_scope)),
        ("answered wrong", _pct(result.answered_wrong, result.in_scope)),
        ("off-topic rejected", _pct(result.rejected, result.off_topic)),
        ("uncovered rejected", _pct(result.rejected_uncovered, result.uncovered)),
    ]


def print_side_by_side(columns: dict[str, Score]) -> None:
    names = list(columns)
    print("  " + " " * 20 + "".join(f"{n:>24}" for n in names))
    rows = {n: figure_rows(r) for n, r in columns.items()}
    for i, (label, _) in enumerate(rows[names[0]]):
        print(f"  {label:<20}" + "".join(f"{rows[n][i][1]:>24}" for n in names))
    styles = sorted({s for r in columns.values() for s in r.style_total})
    print("  top-1 / answered right by style:")
    for style in styles:
        cells = []
        for n in names:
            r = columns[n]
            total = r.style_total.get(style, 0)
            cells.append(f"{r.top1_by_style[style]}/{r.by_style[style]} of {total}" if total else "-")
        print(f"    {style:<18}" + "".join(f"{c:>24}" for c in cells))


def print_confusions(name: str, result: Score, top: int = 12) -> None:
    pairs = result.confusions.most_common(top)
    print(f"  {name}: most-swapped (expected -> ranked first), {sum(result.confusions.values())} misses")
    for (expected, got), count in pairs:
        print(f"    {count:3d}  {expected} -> {got}")


def print_fold_confusions(kb: KnowledgeBase, ev: fitting.FoldEvidence, t, top: int = 15) -> None:
    """The entry pairs the combined score swaps most on the grouped folds (content gaps to fix)."""
    score_ = fitting.candidate_scores(ev, t)
    pairs: Counter = Counter()
    for i, e in enumerate(ev.expect.tolist()):
        a, b = ev.ptr[i], ev.ptr[i + 1]
        if e < 0 or a == b:
            continue
        got = int(ev.cand_entry[a + int(np.argmax(score_[a:b]))])
        if got != e:
            pairs[(kb.entries[e].id, kb.entries[got].id)] += 1
    print(f"  grouped folds: most-swapped (expected -> ranked first), {sum(pairs.values())} misses")
    for (expected, got), count in pairs.most_common(top):
        print(f"    {count:3d}  {expected} -> {got}")


def outcome_figures(ev: fitting.FoldEvidence, score_: np.ndarray, answer: float) -> Counter:
    """Counts of what users would get for the evidence's questions with these candidate scores."""
    evidence = fitting.scored_evidence(ev, score_)
    n_off = int((ev.expect == -1).sum())
    return Counter(
        in_scope=len(evidence.in_scope),
        top1=sum(ok for _, ok in evidence.in_scope),
        right=sum(ok and s >= answer for s, ok in evidence.in_scope),
        wrong=sum(not ok and s >= answer for s, ok in evidence.in_scope),
        off=n_off,
        off_rejected=sum(s < answer for s in evidence.unrelated or []),
        uncovered=len(evidence.off_topic) - n_off,
        uncovered_rejected=sum(s < answer for s in evidence.off_topic)
        - sum(s < answer for s in evidence.unrelated or []),
    )


def figure_line(c: Counter) -> str:
    def share(num: str, den: str) -> str:
        return f"{c[num] / c[den]:6.1%}" if c[den] else "     -"

    return (
        f"top-1 {share('top1', 'in_scope')}, right {share('right', 'in_scope')}, "
        f"wrong {share('wrong', 'in_scope')}, off-topic rej. {share('off_rejected', 'off')}, "
        f"uncovered rej. {share('uncovered_rejected', 'uncovered')} "
        f"({c['in_scope']} + {c['off']} + {c['uncovered']})"
    )


def leave_one_writer_out(groups: dict[str, fitting.FoldEvidence], folds_fit: Thresholds) -> None:
    """Per outside writer: the stacker and thresholds fitted on the other writers only, scored on this one
    with a jamo model trained on the knowledge and the other writers (how a new writer fares); beside it
    the weighted sum fitted on the knowledge base's grouped folds."""
    print(f"leave-one-writer-out ({len(groups)} writers; the model never saw the writer it scores):")
    pooled = {"stacker fit on the other writers": Counter(), "weighted sum fit on grouped folds": Counter()}
    for name, ev in groups.items():
        others = fitting.join_evidence([g for n, g in groups.items() if n != name])
        for label, t in (
            ("stacker fit on the other writers", fitting.fit_stacker(others)),
            ("weighted sum fit on grouped folds", folds_fit),
        ):
            counts = outcome_figures(ev, fitting.candidate_scores(ev, t), t.answer)
            pooled[label] += counts
            print(f"  {name:<11} {label:<34} {figure_line(counts)}")
    for label, counts in pooled.items():
        print(f"  {'all':<11} {label:<34} {figure_line(counts)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="replicated KB sizes")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions per size")
    parser.add_argument("--dev", nargs="*", default=[], help="more development question files")
    parser.add_argument("--misses", action="store_true", help="print every development miss")
    parser.add_argument("--skip-scale", action="store_true", help="no 1,000/10,000-entry or process figures")
    args = parser.parse_args()

    rss_start = rss_mib()
    # Figures for this code and knowledge, not whatever an earlier run left in the user's cache.
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="dockbot-bench-")
    start, cpu = time.perf_counter(), time.process_time()
    snapshot = build_snapshot(REPO / "knowledge", use_cache=False)
    train_s, train_cpu = time.perf_counter() - start, time.process_time() - cpu
    kb, matcher = snapshot.kb, snapshot.matcher
    t = matcher.thresholds
    n_questions = sum(len(e.questions) for e in kb.entries)
    uncovered = len(kb.uncovered_questions)
    print(
        f"knowledge: {len(kb.entries)} entries, {n_questions} example questions, "
        f"{len(kb.off_topic)} off-topic, {uncovered} uncovered"
    )
    print(f"load + index + training (+ fit when not shipped): {train_s:.1f} s wall, {train_cpu:.1f} s CPU")
    if t.stack:
        print(
            f"shipped stacker ({fitting.COMBINATION_FILE.name}): "
            f"answer >= {t.answer:.3f}, suggest >= {t.suggest:.3f}"
        )
        fitted_for = json.loads(fitting.COMBINATION_FILE.read_text(encoding="utf-8")).get("knowledge_version")
        if fitted_for != snapshot.version:
            print("  NOTE: fitted on other knowledge content: rerun python bench/fit_combination.py")
    else:
        print(
            f"fitted: score = {t.w_lex}·lexical + {t.w_jamo}·jamo − {t.w_neg}·p(negative) − "
            f"{t.w_unseen}·unseen; answer >= {t.answer:.3f}, suggest >= {t.suggest:.3f}"
        )
    lexical = fitting.lexical_matcher(kb)
    print(f"lexical alone (leave-one-out fit): answer >= {lexical.thresholds.answer:.3f}")

    start = time.perf_counter()
    evidence = fitting.fold_evidence(kb, matcher.model)
    folds_fit = fitting.fit_combined(evidence)
    print(f"grouped folds ({fitting.FOLDS}; {time.perf_counter() - start:.1f} s):")
    if t.stack:
        counts = outcome_figures(evidence, fitting.candidate_scores(evidence, t), t.answer)
        print(f"  shipped stacker (never saw these questions): {figure_line(counts)}")
    print(
        f"  weighted sum fitted on the folds: {folds_fit.w_lex}·lexical + {folds_fit.w_jamo}·jamo − "
        f"{folds_fit.w_neg}·p(negative) − {folds_fit.w_unseen}·unseen, answer >= {folds_fit.answer:.3f}"
    )
    for name, (w_lex, w_neg, w_unseen) in {
        "combined": (folds_fit.w_lex, folds_fit.w_neg, folds_fit.w_unseen),
        "lexical alone": (1.0, 0.0, 0.25),
        "jamo alone": (0.0, folds_fit.w_neg, 0.0),
    }.items():
        ev = fitting.combined_evidence(evidence, w_lex, w_neg, w_unseen)
        answer, _ = fitting.fit(ev)
        n_in, n_off = len(ev.in_scope), len(ev.off_topic)
        top1 = sum(ok for _, ok in ev.in_scope)
        right = sum(ok and s >= answer for s, ok in ev.in_scope)
        rejected = sum(s < answer for s in ev.off_topic)
        unrelated = ev.unrelated or []
        off_rejected = sum(s < answer for s in unrelated)
        off_share = off_rejected / max(1, len(unrelated))
        uncovered_share = (rejected - off_rejected) / max(1, n_off - len(unrelated))
        print(
            f"  {name:<14} top-1 {top1 / n_in:.1%}, answered right {right / n_in:.1%}, "
            f"negatives rejected {rejected / max(1, n_off):.1%} (off-topic {off_share:.1%}, "
            f"uncovered {uncovered_share:.1%}; {n_in} + {n_off} questions)"
        )

    data = REPO / "tests" / "data"
    print_fold_confusions(kb, evidence, t)
    leave_one_writer_out(fitting.writer_evidence(kb, fitting.writer_questions(data)), folds_fit)

    dev_files, sealed_files = evaluation_files(data)
    dev_files += [Path(p) for p in args.dev]
    dev = load_labelled(dev_files)
    columns = {"dev lexical": score(lexical, dev), "dev combined": score(matcher, dev)}
    sealed_sizes = []
    for path in sealed_files:  # each writer's set in its own columns
        sealed: list[Labelled] = load_labelled([path])
        sealed_sizes.append(f"{path.stem} {len(sealed)}")
        columns[f"{path.stem} lexical"] = score(lexical, sealed, sealed=True)
        columns[f"{path.stem} combined"] = score(matcher, sealed, sealed=True)
    print(
        f"\ndevelopment: {len(dev)} questions ({', '.join(p.stem for p in dev_files)})"
        + (f"; sealed: {', '.join(sealed_sizes)} questions" if sealed_files else "; no sealed set")
    )
    print_side_by_side(columns)
    for name, result in columns.items():
        if "combined" in name:
            print_confusions(name, result)
    if args.misses:
        print("\n".join("  " + m for m in columns["dev combined"].misses))

    questions = [x.question for x in dev]
    p50, p99 = latency(matcher, questions, args.repeat)
    print(f"\nlatency at {len(kb.entries)} entries: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    huge = "볼륨 " * 50_000
    start = time.perf_counter()
    matcher.match(huge)
    print(f"100,000-character question: {(time.perf_counter() - start) * 1000:.1f} ms")
    if args.skip_scale:
        return 0
    for size in [int(s) for s in args.sizes.split(",") if s]:
        big = replicate(kb, size)
        start, cpu = time.perf_counter(), time.process_time()
        model = fitting.train_model(big)
        trained, trained_cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        big_matcher = Matcher(big, t, model=model)
        built = time.perf_counter() - start
        p50, p99 = latency(big_matcher, questions, 1)
        print(
            f"latency at {size:,} entries: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
            f"(model training {trained:.1f} s wall / {trained_cpu:.1f} s CPU, lexical index {built:.1f} s)"
        )
        if size <= 1000:
            # An admin adds one example question: the reload refits that entry's class and rebuilds the
            # index (the interim snapshot); the full training above follows in the background.
            first = big.entries[0]
            grown = (dataclasses.replace(first, questions=(*first.questions, "볼륨 백업은 어떻게 해요?")),)
            edited = dataclasses.replace(big, entries=grown + big.entries[1:])
            start, cpu = time.perf_counter(), time.process_time()
            refit = fitting.refit_model(edited, big, model)
            assert refit is not None
            Matcher(edited, t, model=refit)
            print(
                f"  retrain after a one-entry edit at {size:,} entries (refit + index, answering "
                f"throughout): {time.perf_counter() - start:.1f} s wall / "
                f"{time.process_time() - cpu:.1f} s CPU"
            )
        del big_matcher, model
    print(f"RSS: {rss_start:.0f} MiB at start, {rss_mib():.0f} MiB peak (after the 10,000-entry model)")

    empty = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(3):
            with tempfile.TemporaryDirectory() as fresh:
                empty.append(cold_start("명명된 볼륨이 뭐야?", fresh))
                wait_for_training(fresh)
        cold_start("명명된 볼륨이 뭐야?", cache)
        waited = wait_for_training(cache)
        warm = [cold_start("명명된 볼륨이 뭐야?", cache) for _ in range(5)]
        rss = serve_like_rss(cache)
    print(
        f"cold start (dockbot ask --json, process start to answer): {statistics.median(warm):.2f} s "
        f"with the model cached, {statistics.median(empty):.2f} s on an empty cache "
        f"(lexical alone, provisional thresholds; the background training was cached {waited:.1f} s later)"
    )
    print(f"serve-like process RSS (Slack app imported, warm cache, 100 questions): {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
