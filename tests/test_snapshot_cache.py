"""The snapshot cache is an optimisation: failing to write it must never stop the bot (the image runs with a
read-only root, where even removing the half-written temp file fails with EROFS)."""

from __future__ import annotations

import errno
from pathlib import Path

from bot import snapshot_cache
from bot.live_knowledge import build_snapshot

FIXTURE_KB = Path(__file__).parent / "fixtures"


def hold_training(monkeypatch, name: str = "fit_learned"):
    """Make the model's fit (or `name`, another step of bot/thresholds.py) wait: (set once it has begun,
    set it to let it finish)."""
    import threading

    from bot import thresholds

    training, release = threading.Event(), threading.Event()
    real_fit = getattr(thresholds, name)

    def held_fit(*args):
        training.set()
        assert release.wait(60)
        return real_fit(*args)

    monkeypatch.setattr(thresholds, name, held_fit)
    return training, release


def _read_only(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def test_store_on_a_read_only_filesystem_logs_and_returns(tmp_path, monkeypatch, caplog):
    kb_dir = next(p.parent for p in sorted(FIXTURE_KB.rglob("*.yaml")) if p.parent.name != "demos")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    snapshot = build_snapshot(kb_dir, use_cache=False)
    monkeypatch.setattr(Path, "write_bytes", _read_only)
    monkeypatch.setattr(Path, "unlink", _read_only)
    with caplog.at_level("INFO", logger="bot.snapshot_cache"):
        matcher = snapshot.matcher
        snapshot_cache.store(  # must not raise
            snapshot.version, matcher.model, matcher.thresholds, matcher.text_tokens
        )
    assert "cannot cache the trained model" in caplog.text
    assert "Read-only file system" in caplog.text


def test_load_of_a_missing_snapshot_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kb = build_snapshot(FIXTURE_KB / "kb", use_cache=False).kb
    assert snapshot_cache.load("no-such-version", kb) is None


def _cached_files(tmp_path: Path) -> tuple[Path, Path]:
    (meta,) = (tmp_path / "cache" / "dockbot").glob("model-*.json")
    return meta, meta.with_suffix(".npz")


def test_the_cached_model_is_plain_arrays_and_json_never_pickle(tmp_path, monkeypatch):
    import json

    import numpy as np

    kb_dir = FIXTURE_KB / "kb"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    snapshot = build_snapshot(kb_dir)
    assert snapshot.matcher.model is not None
    meta, npz = _cached_files(tmp_path)
    assert not list((tmp_path / "cache").rglob("*.pickle"))
    json.loads(meta.read_text(encoding="utf-8"))  # plain JSON
    with np.load(npz, allow_pickle=False) as arrays:  # would raise on any object (pickled) array
        assert all(arrays[name].dtype != object for name in arrays.files)
    assert oct(npz.stat().st_mode & 0o777) == "0o600"
    again = build_snapshot(kb_dir)
    assert again.matcher.thresholds == snapshot.matcher.thresholds
    assert snapshot_cache.load(snapshot.version, snapshot.kb) is not None


def test_a_tampered_cache_is_rejected_and_retrained(tmp_path, monkeypatch, caplog):
    import shutil

    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB / "kb", kb_dir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    snapshot = build_snapshot(kb_dir)
    _, npz = _cached_files(tmp_path)
    blob = bytearray(npz.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    npz.write_bytes(bytes(blob))
    with caplog.at_level("WARNING", logger="bot.snapshot_cache"):
        assert snapshot_cache.load(snapshot.version, snapshot.kb) is None
    assert "recorded hash" in caplog.text
    # A pickle where the arrays should be is never loaded either: the hash no longer matches.
    npz.write_bytes(b"\x80\x04\x95" + bytes(blob[3:]))
    assert snapshot_cache.load(snapshot.version, snapshot.kb) is None
    rebuilt = build_snapshot(kb_dir)  # retrains and replaces the bad file
    assert rebuilt.matcher.model is not None
    assert snapshot_cache.load(snapshot.version, snapshot.kb) is not None


def test_a_knowledge_edit_retrains_while_the_old_model_answers(tmp_path, monkeypatch):
    import shutil
    import threading

    from bot.live_knowledge import LiveKnowledge

    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB / "kb", kb_dir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    live = LiveKnowledge.load(kb_dir)
    old = live.current
    question = "명명된 볼륨이 뭐야?"
    assert old.matcher.match(question).match.entry.id == "volume-named"

    refitting, release_refit = hold_training(monkeypatch, "refit_model")
    training, release = hold_training(monkeypatch)
    volumes = kb_dir / "volumes.yaml"
    volumes.write_text(
        volumes.read_text(encoding="utf-8").replace(
            "title: 명명된 볼륨 (named volume)", "title: 명명된 볼륨"
        ),
        encoding="utf-8",
    )
    results = []
    reloader = threading.Thread(target=lambda: results.append(live.reload()))
    reloader.start()
    assert refitting.wait(60)
    # The changed entry is being refitted: the old snapshot keeps answering, with its model.
    for _ in range(5):
        answer = live.current.matcher.match(question)
        assert live.current is old and answer.match.entry.id == "volume-named"
    release_refit.set()
    reloader.join(120)
    assert results and results[0].ok and results[0].changed
    interim = live.current
    # The refitted model answers at once; the full training runs in the background (held here).
    assert interim is not old and interim.interim and interim.matcher.model is not None
    assert interim.kb.get("volume-named").title == "명명된 볼륨"
    assert training.wait(60)
    assert interim.matcher.match(question).match.entry.id == "volume-named"
    release.set()
    for _ in range(600):
        if live.current is not interim:
            break
        threading.Event().wait(0.1)
    trained = live.current
    assert not trained.interim and trained.version == interim.version
    assert trained.matcher.match(question).match.entry.id == "volume-named"
    assert snapshot_cache.load(trained.version, trained.kb) is not None


def test_serving_answers_at_once_on_an_empty_cache_and_swaps_in_the_trained_model(tmp_path, monkeypatch):
    import threading

    from bot import thresholds
    from bot.live_knowledge import LiveKnowledge

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real_fit = thresholds.fit_learned
    training, release = hold_training(monkeypatch)
    live = LiveKnowledge.load_serving(FIXTURE_KB / "kb")
    provisional = live.current
    # The model is still training (held): the lexical scorer answers meanwhile.
    assert training.wait(60)
    assert provisional.provisional and provisional.matcher.model is None
    assert provisional.matcher.match("명명된 볼륨이 뭐야?").match.entry.id == "volume-named"
    release.set()
    for _ in range(600):
        if not live.current.provisional:
            break
        threading.Event().wait(0.1)
    trained = live.current
    assert not trained.provisional and trained.matcher.model is not None
    assert trained.version == provisional.version
    assert trained.matcher.match("명명된 볼륨이 뭐야?").match.entry.id == "volume-named"
    # It was cached: the next process starts with the trained model.
    monkeypatch.setattr(thresholds, "fit_learned", real_fit)
    again = LiveKnowledge.load_serving(FIXTURE_KB / "kb").current
    assert not again.provisional and again.matcher.model is not None
