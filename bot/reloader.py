"""Hot reload of the knowledge base: watch knowledge/ and swap in each valid edit without a restart.

A bad edit never takes the bot down: LiveKnowledge keeps serving the last good snapshot, and the admins are
told which file and line is wrong, once per broken state (the same problems are not repeated on every save),
and once more when it is fixed. How admins are told is the door's business: the Slack app injects a
`notify` that DMs DOCKBOT_ADMINS or posts in DOCKBOT_ADMIN_CHANNEL, the terminal prints.

Watching uses watchfiles (inotify/FSEvents, debounced); if it cannot run here (no inotify, a filesystem
without events) the watcher falls back to polling file sizes and mtimes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.knowledge import knowledge_files
from bot.render import render_text

if TYPE_CHECKING:
    from bot.live_knowledge import LiveKnowledge, ReloadResult
    from bot.yamlfile import Problem

log = logging.getLogger(__name__)

Notify = Callable[[str], None]

# watchfiles groups the bursts an editor makes when saving (write temp, rename, chmod) into one change.
DEBOUNCE_MS = 400
# watchfiles yields an empty set after this long without changes: the first one says the watch is set up.
READY_TICK_MS = 1000
POLL_INTERVAL_S = 1.0
_YAML_SUFFIXES = (".yaml", ".yml")


def _is_knowledge_file(_change: object, path: str) -> bool:
    return path.endswith(_YAML_SUFFIXES)


def _just_edited_first(problems: list[Problem]) -> list[Problem]:
    """The file saved last first: a syntax error there explains the follow-on errors elsewhere
    (e.g. "related id does not exist" in every file pointing into an unreadable one)."""

    def mtime(problem: Problem) -> float:
        try:
            return Path(problem.path).stat().st_mtime
        except OSError:
            return 0.0

    return sorted(problems, key=lambda p: (-mtime(p), p.path, p.line))


class KnowledgeReloader:
    """Reloads `knowledge` on demand or when its files change, and tells admins about broken/fixed edits."""

    def __init__(
        self,
        knowledge: LiveKnowledge,
        directory: Path,
        notify: Notify | None = None,
        *,
        force_polling: bool = False,
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        self.knowledge = knowledge
        self.directory = Path(directory)
        self.notify = notify
        self.force_polling = force_polling
        self.poll_interval_s = poll_interval_s
        self._reload_lock = threading.Lock()  # one reload at a time: watcher and /dockbot reload may race
        self._broken: tuple[Problem, ...] | None = None  # the problems admins were last told about
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.mode: str | None = None  # "watchfiles" | "polling" while running, for logs and tests
        # When the last finished reload began (time.time()): one that began after a file's mtime has read
        # that edit and sent any notice about it (tests wait on this instead of sleeping).
        self.last_reload_began = 0.0

    @property
    def broken(self) -> tuple[Problem, ...] | None:
        """The problems of the edit that is not being served, or None when the files on disk are served."""
        return self._broken

    def reload(self, trigger: str = "command") -> ReloadResult:
        """Reload now; notify admins when the files broke (new problems) or got fixed."""
        with self._reload_lock:
            began = time.time()
            result = self.knowledge.reload()
            if result.ok:
                was_broken, self._broken = self._broken, None
                if was_broken is not None:
                    self._tell("fixed", result)
                elif result.changed:
                    log.info("knowledge reloaded (%s): version %s", trigger, result.version)
            else:
                problems = tuple(sorted(result.problems))
                if problems != self._broken:
                    self._broken = problems
                    shown = _just_edited_first(result.problems)
                    log.warning(
                        "knowledge edit rejected (%s); still serving version %s:\n%s",
                        trigger,
                        result.version,
                        "\n".join(str(p) for p in shown),
                    )
                    self._tell("broken", result, shown)
            self.last_reload_began = began
            return result

    def _tell(self, kind: str, result: ReloadResult, problems: list[Problem] | None = None) -> None:
        if self.notify is None:
            return
        try:
            entries = len(self.knowledge.current.kb.entries)
            shown = problems if problems is not None else result.problems
            text = render_text("reload.txt.j2", kind=kind, result=result, entries=entries, problems=shown)
            self.notify(text)
        except Exception:  # a failing Slack call must not stop the watcher
            log.exception("could not notify admins about a %s knowledge reload", kind)

    # ---- watching ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Watch the knowledge directory on a daemon thread until stop()."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="knowledge-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.mode = None

    def _run(self) -> None:
        if not self.force_polling:
            try:
                self._watch_events()
                return
            except Exception as exc:  # e.g. inotify watch limit reached, directory replaced
                if self._stop.is_set():
                    return
                log.warning(
                    "watchfiles cannot watch %s (%s); polling every %.1fs instead",
                    self.directory,
                    exc,
                    self.poll_interval_s,
                )
        self._poll()

    def _watch_events(self) -> None:
        from watchfiles import watch

        watching = False
        for changes in watch(
            self.directory,
            watch_filter=_is_knowledge_file,
            debounce=DEBOUNCE_MS,
            stop_event=self._stop,
            raise_interrupt=False,
            rust_timeout=READY_TICK_MS,
            yield_on_timeout=True,
        ):
            if not watching:
                # The first yield (a change or an idle tick) means inotify is set up: from now on no edit is
                # missed, so only now is the watcher running; the catch-up reload reads edits made before.
                watching = True
                self.mode = "watchfiles"
                log.info("watching %s for knowledge edits (watchfiles)", self.directory)
                self._reload_safely("watch")
            elif changes:
                self._reload_safely("watch")

    def _poll(self) -> None:
        seen = self._fingerprint()
        self.mode = "polling"
        log.info("watching %s for knowledge edits (polling)", self.directory)
        self._reload_safely("poll")  # an edit made while the watcher was starting
        while not self._stop.wait(self.poll_interval_s):
            current = self._fingerprint()
            if current != seen:
                seen = current
                self._reload_safely("poll")

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        try:
            files = knowledge_files(self.directory)
            return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        except OSError:
            return ()  # the directory is being replaced: the next poll sees the new files

    def _reload_safely(self, trigger: str) -> None:
        try:
            self.reload(trigger)
        except Exception:  # whatever happens, keep watching and keep serving the last good snapshot
            log.exception("knowledge reload after a file change failed")
