"""Follow-ups: a short question in a conversation is read with the conversation's topic.

After "명명된 볼륨이 뭐야?" the follow-up "그럼 익명인 건?" means "anonymous *volumes*", "그거 지우려면?"
means "how do I remove *a volume*", "예시 보여줘" means "the same entry again, with its commands".
A conversation is a Slack thread, a DM or one terminal chat session; its topic (the last entry answered
there and the question that led to it) is kept per conversation in the store so that replicas share it
(`Store.recall_topic`), or in this process when there is no store.

How a follow-up is answered (at the Brain level, through the matcher's public `match`):
1. Only a question that *looks like* a follow-up is read with context (a connective such as 그럼, a pronoun
   such as 그거, an ending such as "...에서는?", or a short request for an example); anything else is
   answered on its own, so a question that names a new topic is never bent towards the old one.
2. "예시 보여줘" (nothing but a request for an example) answers the previous entry again.
3. Otherwise the question is asked again with the topic's head words prepended: the words of the previous
   entry's title that its related entries share ("볼륨" for 명명된 볼륨: the thing, not the kind of it), or
   the whole title. The previous entry and its related entries get a small prior boost among the candidates.
4. The follow-up asked on its own wins when it scores better (it named its own topic clearly); a tie goes
   to the context ("쿠버네티스에서는?" after 컨테이너란: containers in Kubernetes, not Kubernetes).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.matcher import Answer, Match

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

_CONNECTIVE = re.compile(
    r"^\s*(그럼|그러면|그렇다면|그리고|그런데|근데|그래서|아니면|혹시|또|그담에|그다음)(\s|$|[,.?!])"
)
_PRONOUN = re.compile(r"(그거|그건|그걸|그게|그것|이거|이건|이걸|이게|이것|저거|저건|거기|여기서|걔|얘)")
# "X인 건?", "X는?", "X에서는?", "X라면?": the question is about X in the conversation's setting.
_ENDING = re.compile(r"(인\s*(건|거|것|경우)|에서는|에선|에서|라면|이라면|이면|은|는|도)\s*[?？]*\s*$")
_EXAMPLE = re.compile(r"(예시|예제|샘플|example|보여\s*줘|보여\s*주세요|명령어)", re.IGNORECASE)
# What a request for an example may consist of besides the words above ("그거 예시 좀 보여줘").
_EXAMPLE_FILLER = re.compile(
    r"(그거|그것|이거|그|좀|한번|한 번|더|다른|하나|만|도|는|은|를|을|줘|주세요|주실래요|줄래|요|[?？!.,~ ])",
    re.IGNORECASE,
)
# Cut from a follow-up before it is asked again: the copula in "익명인 건" hides the noun from the analyser.
_COPULA = re.compile(r"(\S+?)인\s*(건|거|것|경우)")


@dataclass(frozen=True)
class Topic:
    """What a conversation is about: the last entry answered in it and the question that led there."""

    entry_id: str  # "" when the bot has only offered suggestions so far
    question: str
    # A question of this conversation still waiting for its entry (it got suggestions, or a 👎): the entry
    # the asker ends up with makes it a suggested example (bot/suggestions.py). pending_reason says how.
    pending: str = ""
    pending_reason: str = ""


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


def looks_like_follow_up(question: str) -> bool:
    """A short question that leans on what was said before (그럼…, 그거…, …에서는?, 예시 보여줘)."""
    text = question.strip()
    if not text or len(text) > MAX_FOLLOW_UP_CHARS:
        return False
    return bool(
        _CONNECTIVE.search(text) or _PRONOUN.search(text) or _ENDING.search(text) or _EXAMPLE.search(text)
    )


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


def resolve(matcher: Matcher, kb: KnowledgeBase, question: str, topic: Topic | None) -> Answer:
    """Answer `question`, reading it as a follow-up of `topic` when it looks like one."""
    alone = matcher.match(question)
    if topic is None or alone.outcome == "invalid" or not looks_like_follow_up(question):
        return alone
    previous = kb.get(topic.entry_id)
    if previous is None:  # the entry was removed since: nothing to lean on
        return alone
    if asks_for_an_example(question):
        others = tuple(Match(e, 0.0) for e in (kb.get(r) for r in previous.related[:2]) if e is not None)
        return Answer(question, "answered", Match(previous, 1.0), others)
    content = _COPULA.sub(r"\1", question)
    contextual = matcher.match(f"{head_words(matcher, kb, previous)} {content}")
    if contextual.outcome not in ("answered", "suggested"):
        return alone
    if alone.outcome == "answered" and alone.match is not None and alone.match.score > _best(contextual):
        return alone
    return _with_prior(question, contextual, {previous.id, *previous.related})


def _best(answer: Answer) -> float:
    if answer.match is not None:
        return answer.match.score
    return max((m.score for m in answer.alternatives), default=0.0)


def _with_prior(question: str, contextual: Answer, neighbourhood: set[str]) -> Answer:
    """The contextual answer re-ranked with a small boost for the thread's neighbourhood of entries."""
    candidates = ([contextual.match] if contextual.match is not None else []) + list(contextual.alternatives)

    def boosted(m: Match) -> float:
        return m.score + (NEIGHBOURHOOD_BOOST if m.entry.id in neighbourhood else 0.0)

    ranked = sorted(candidates, key=boosted, reverse=True)
    if contextual.outcome == "answered":
        return Answer(question, "answered", ranked[0], tuple(ranked[1:]))
    return Answer(question, "suggested", None, tuple(ranked))


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
