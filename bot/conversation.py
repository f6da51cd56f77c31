"""Follow-ups: a short question in a conversation is read with the conversation's topic.

After "명명된 볼륨이 뭐야?" the follow-up "그럼 익명인 건?" means "anonymous *volumes*", "그거 지우려면?"
means "how do I remove *a volume*", "예시 보여줘" means "the same entry again, with its commands".
A conversation is a Slack thread, a DM or one terminal chat session; its topic (the last entry answered
there and the question that led to it) is kept per conversation in the store so that replicas share it
(`Store.recall_topic`), or in this process when there is no store.

How a follow-up is answered (at the Brain level, through the matcher's public `rank` and `decide`):
1. Only a short question is read with context; a long one is a question of its own.
2. "예시 보여줘" (nothing but a request for an example or the commands) answers the previous entry again.
3. Otherwise the question is ranked twice: with the topic's head words prepended (the words of the previous
   entry's title that its related entries share: "볼륨" for 명명된 볼륨, the thing, not the kind of it),
   and on its own. Candidates are ordered by the context reading plus half the reading alone, with a small
   boost for the previous entry's neighbourhood (its related entries, both ways), and the previous entry
   itself left out: "그럼 익명인 건?" asks about something other than what was just answered.
4. So a follow-up that names a new topic ("네트워크는 뭐야?") keeps the answer it gets on its own (its reading
   alone is strong in both rankings), while "지우려면?" after 명명된 볼륨 finds 쌓인 볼륨 정리하기.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Protocol

from bot.conversation_topic import Topic
from bot.matcher import Answer, Match, Scored

if TYPE_CHECKING:
    from bot.knowledge import Entry, KnowledgeBase
    from bot.matcher import Matcher

# A conversation's topic is forgotten after a day of silence (a thread picked up next week starts afresh).
TOPIC_TTL_S = 24 * 3600.0
# Bound of the in-process memory (no store): the least recently used conversations go first.
MAX_LOCAL_TOPICS = 5000
# A follow-up is short; a long message is a question of its own.
MAX_FOLLOW_UP_CHARS = 40
# Prior boost of the previous entry's neighbourhood among the contextual candidates (score units 0..1):
# enough to break near-ties towards the thread's topic, not enough to overrule a clear winner.
NEIGHBOURHOOD_BOOST = 0.05
# Weight of the follow-up's reading on its own beside its reading in context (tests/test_follow_ups.py).
ALONE_WEIGHT = 0.5
# A follow-up whose words the knowledge base mostly never uses is not read with context: the topic's head
# words alone would answer it ("9" after 명명된 볼륨 is not a question about volumes).
MOSTLY_UNKNOWN = 0.5

_EXAMPLE = re.compile(r"(예시|예제|샘플|example|보여\s*줘|보여\s*주세요|명령어)", re.IGNORECASE)
# What a request for an example may consist of besides the words above ("그거 예시 좀 보여줘").
_EXAMPLE_FILLER = re.compile(
    r"(그거|그것|이거|그|좀|한번|한 번|더|다른|하나|만|도|는|은|를|을|있어|있나"
    r"|알려|줘|주세요|주실래요|줄래|요|[?？!.,~ ])",
    re.IGNORECASE,
)
# Cut from a follow-up before it is asked again: the copula in "익명인 건" hides the noun from the analyser.
_COPULA = re.compile(r"(\S+?)인\s*(건|거|것|경우)")


class TopicMemory(Protocol):
    def recall_topic(self, key: str, *, max_age_s: float) -> Topic | None: ...

    def remember_topic(self, key: str, topic: Topic, *, max_age_s: float) -> bool: ...


class LocalTopics:
    """Topics kept in this process (no store configured): bounded and expiring like the store's."""

    def __init__(self, limit: int = MAX_LOCAL_TOPICS) -> None:
        self._topics: OrderedDict[str, tuple[float, Topic]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def recall_topic(self, key: str, *, max_age_s: float) -> Topic | None:
        with self._lock:
            found = self._topics.get(key)
            if found is None:
                return None
            if time.time() - found[0] > max_age_s:
                del self._topics[key]
                return None
            self._topics.move_to_end(key)
            return found[1]

    def remember_topic(self, key: str, topic: Topic, *, max_age_s: float) -> bool:
        with self._lock:
            self._topics[key] = (time.time(), topic)
            self._topics.move_to_end(key)
            while len(self._topics) > self._limit:
                self._topics.popitem(last=False)
        return True


def may_lean_on_context(question: str) -> bool:
    """Short enough to be a follow-up; a long message is a question of its own."""
    text = question.strip()
    return bool(text) and len(text) <= MAX_FOLLOW_UP_CHARS


def asks_for_an_example(question: str) -> bool:
    """Nothing but a request for an example or the commands ("예시 보여줘", "그거 명령어 좀")."""
    text = question.strip()
    if not _EXAMPLE.search(text):
        return False
    rest = _EXAMPLE_FILLER.sub("", _EXAMPLE.sub("", text))
    return not rest.strip()


def head_words(matcher: Matcher, kb: KnowledgeBase, entry: Entry) -> str:
    """The words of the entry's title that its related entries share (the thing the thread is about)."""
    own = list(dict.fromkeys(matcher.analyse(entry.title)))
    related = [r for r in (kb.get(rid) for rid in entry.related) if r is not None]
    if not own or not related:
        return entry.title
    shared: Counter[str] = Counter()
    for other in related:
        theirs = set(matcher.analyse(other.title))
        shared.update(t for t in own if t in theirs)
    words = [t for t in own if shared[t] * 2 >= len(related)]
    # Analyser tokens are what the matcher reads best; the title is the fallback when nothing is shared.
    return " ".join(words) if words else entry.title


def neighbourhood(kb: KnowledgeBase, entry: Entry) -> set[str]:
    """The entry, its related entries and the entries that list it as related (links go one way in YAML)."""
    return {entry.id, *entry.related, *(e.id for e in kb.entries if entry.id in e.related)}


def resolve(matcher: Matcher, kb: KnowledgeBase, question: str, topic: Topic | None) -> Answer:
    """Answer `question`, reading it with the conversation's `topic` when it is short enough to lean on it."""
    alone = matcher.match(question)
    if topic is None or alone.outcome in ("invalid", "smalltalk") or not may_lean_on_context(question):
        return alone
    previous = kb.get(topic.entry_id)
    if previous is None:  # the entry was removed since: nothing to lean on
        return alone
    content = _COPULA.sub(r"\1", question)
    if matcher.lexical(matcher.analyse(content))[1] >= MOSTLY_UNKNOWN:
        return alone  # "9", "asdf": nothing of the follow-up's own for the context to build on
    if asks_for_an_example(question):
        others = tuple(Match(e, 0.0) for e in (kb.get(r) for r in previous.related[:2]) if e is not None)
        return Answer(question, "answered", Match(previous, 1.0), others)
    return matcher.decide(question, _in_context(matcher, kb, question, content, previous, alone))


def _in_context(
    matcher: Matcher, kb: KnowledgeBase, question: str, content: str, previous: Entry, alone: Answer
) -> list[Scored]:
    """Candidates of the follow-up read in context, best first, each scored as its better reading.

    Ranked by the context reading plus half the reading alone (a follow-up that names its own topic keeps
    it), plus a small boost for the previous entry's neighbourhood. The previous entry itself is left out
    unless the words alone pick it: a follow-up asks about something other than what was just answered."""
    entries = matcher.index.entries
    chosen_alone = alone.match.entry.id if alone.outcome == "answered" and alone.match else None
    own = {entries[s.index].id: s for s in matcher.rank(question)}
    # The context reading ranks without the previous entry (its words are in the reading), so the other
    # candidates' scores are not judged against it.
    without = frozenset(i for i, e in enumerate(entries) if e.id == previous.id and e.id != chosen_alone)
    reading = f"{head_words(matcher, kb, previous)} {content}"
    context = {entries[s.index].id: s for s in matcher.rank(reading, leave_out=without)}
    near = neighbourhood(kb, previous)
    candidates = (own.keys() | context.keys()) - ({previous.id} - {chosen_alone})

    def weight(entry_id: str) -> float:
        in_context = context[entry_id].score if entry_id in context else 0.0
        on_its_own = own[entry_id].score if entry_id in own else 0.0
        return in_context + ALONE_WEIGHT * on_its_own + (NEIGHBOURHOOD_BOOST if entry_id in near else 0.0)

    def scored(entry_id: str) -> Scored:
        readings = [r[entry_id] for r in (context, own) if entry_id in r]
        return max(readings, key=lambda s: s.score)

    return [scored(e) for e in sorted(candidates, key=weight, reverse=True)]


class Conversations:
    """Topics of conversations, in the store when there is one (shared by replicas), else in this process."""

    def __init__(self, memory: TopicMemory | None = None, *, ttl_s: float = TOPIC_TTL_S) -> None:
        self.memory: TopicMemory = memory if memory is not None else LocalTopics()
        # Write-through copy in this process: the store's write goes through its writer queue (after the
        # reply; a database holding its write lock never delays an answer), so a follow-up that reaches this
        # replica before the write lands still finds the topic here.
        self._recent = LocalTopics() if memory is not None else None
        self.ttl_s = ttl_s

    def topic(self, key: str | None) -> Topic | None:
        if not key:
            return None
        if self._recent is not None and (recent := self._recent.recall_topic(key, max_age_s=self.ttl_s)):
            return recent
        return self.memory.recall_topic(key, max_age_s=self.ttl_s)

    def _store(self, key: str, topic: Topic) -> None:
        if self._recent is None:
            self.memory.remember_topic(key, topic, max_age_s=self.ttl_s)
            return
        self._recent.remember_topic(key, topic, max_age_s=self.ttl_s)
        submit = getattr(self.memory, "submit_topic", None)
        if submit is not None:
            submit(key, topic, max_age_s=self.ttl_s)
        else:
            self.memory.remember_topic(key, topic, max_age_s=self.ttl_s)

    def remember(self, key: str | None, entry_id: str, question: str) -> None:
        """The conversation is now about `entry_id` (nothing is pending any more)."""
        if key and entry_id:
            self._store(key, Topic(entry_id, question[:500]))

    def hold(self, key: str | None, question: str, *, reason: str) -> None:
        """Keep the topic, and remember `question` as waiting for its entry (suggestions, a 👎)."""
        if not key or not question:
            return
        topic = self.topic(key) or Topic("", "")
        held = Topic(topic.entry_id, topic.question, question[:500], reason)
        self._store(key, held)
