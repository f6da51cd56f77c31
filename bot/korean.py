"""Text normalisation for casual Korean mixed with English technical terms.

Two layers:
- `clean_text` / `raw_tokens`: vocabulary-free steps (Slack markup, NFKC, case, punctuation, splitting Hangul
  from Latin runs, particle/ending stripping, the question-word token). Commands and English terms such as
  `-v data:/app/data` or `depends_on` stay whole (their alphanumeric parts are added beside them).
- `Analyzer`: steps that depend on the knowledge base: typo correction at jamo level against the KB's own
  words, and the synonym table (English/Korean aliases -> one canonical term).

Both the index and the questions go through the same Analyzer: consistency matters more than linguistics.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from rapidfuzz import fuzz, process

from bot.markup import strip_for_matching

# Matching looks at the start of a message only: a 100,000-character paste must cost what a question costs.
MAX_MATCH_CHARS = 600
# Raw input is cut before any regex runs so that markup stripping is bounded too.
MAX_RAW_CHARS = 4000

MAX_WORD_CHARS = 40

QUESTION_TOKEN = "q:뭐"

# Particles, copulas and common verb endings (the longest matching one is stripped first).
SUFFIXES = """
에서는 에서도 에서 에게는 에게 한테 에는 으로는 으로 로는 로 이랑 랑 하고 과 와 은
는 이 가 을 를 의 에 도 만 까지 부터 처럼 보다 이나 나 이란 란 이라는 라는 이라고
라고 이야 야 이에요 에요 예요 이예요 인가요 인가 인데 인지 이고 요 이죠 죠 임 이었지
였지 이냐 냐 이니 니 이여 여 이다 다 이지 지 이면 이라 라 이라서 라서 이라도 이랑은
하면 하려면 려면 으려면 하는 하나요 해요 해 했더니 했는데 했어요 했어 되나요 돼요 돼
되는 되면 된 되고 인지 는지 할까 하기 하지 합니다 입니다 할때 할 때 하고 싶어 싶어요
싶은데 나요 가요 는데 은데 면 고 서 니까 는거 는거야 는거에요 는거예요 는거임 하는거
하는거야 하는법 는법 법 들 들이 들은 들을 들도 들의 이에 에도 에선 에서의 으로도 로도
으론 론 쯤 께 끼리 끼리는 마다 밖에 한테서 에서부터 더니 었더니 았더니 였더니 어요
아요 어 아 었어 았어 었어요 았어요 였어 였어요 져요 져 졌어 졌어요 네요 군요 는데요
던데 던데요 잖아 잖아요 거든요 거든 습니다 습니까 ㅂ니다 을까 을까요 을지 ㄹ까 려고
으려고 려는데 으려는데
해주세요 주세요 해주세 주세 해주실 주실 해주실래요 해줄래 해줄래요 해줘요 해줘 해주면 해주나요 해줄수
했 한 하 했던 했었 하자 해보 해봤 해본 해볼 하게 할게 한거 한건 한게 하던 하더라 하더라구 하더라고
됐 됐던 됐었 된거 된건 되게 되던 더라구 더라고 더라구요 더라고요 거든
되요 되여 되나여 돼여 햇는데 햇어요 햇어 햇더니 했는데여 해여 해욤 해용 함 함요 하나여 나여 가여
""".split()  # noqa: SIM905 - a word list reads best as text
_SUFFIX_SET = frozenset(SUFFIXES)
_SUFFIX_MAX = max(len(s) for s in SUFFIXES)

# Suffixes that turn "X란?" into "what is X": they add the question-word token.
_DEFINITION_SUFFIXES = frozenset({"이란", "란", "이라는", "라는", "이란게", "란게", "이란건", "란건"})

QUESTION_WORDS = frozenset(
    """
    뭐 뭐야 뭐임 뭔가요 뭔데 뭐예요 뭐에요 뭐였지 뭐지 뭐냐 뭐냐면 뭐여 뭡니까 뭐죠 뭔지
    뭐길래 무엇 무엇인가 무엇인가요 무엇인지 무엇입니까 머야 머임 모야 뭐하는 뭘 뭐가 머가
    뭐고 뭔 what 개념 정의 머예요 머에요 머에여 뭐에여 뭐예여 뭐여요 모예요 모에요 뭐임요 머임 머지 머죠 뭐얌
    뭐에용 뭐예용 머냐 뭥미 뭐져 뭐니
    """.split()  # noqa: SIM905 - a word list reads best as text
)

STOPWORDS = frozenset(
    """
    알려주실 알려주세 알려주실래요 주실 주세 주실래요 부탁드려
    부탁드립니다 해요 했더 뭐라 걸 곳 개 개에 개가 대 대가 나와
    나와요 나오 하길래 하더 하더라 다들 처음 대충 쉽게 정확하게
    간단히 간단하게 개를 개씩 개의
    무슨 알려줘 알려주세요 알려 알려줄래 설명 설명해 설명해줘 설명좀 설명해주세요 좀 어떻게
    어떡해 어케 방법 법 하는 거 것 수 있어 있나요 있어요 있나 있을까 있을까요 되나 돼 해
    줘 주세요 이 그 저 가 는 은 을 를 에 의 도 로 와 과 랑 이랑 하고 요 야 임 거야
    건가요 건데 이거 이건 그거 그건 정확히 그냥 혹시 있다 없다 있는데 되는 된다 하면
    하려면 해야 해야돼 해야되 궁금 궁금해 궁금해요 궁금합니다 질문 질문이요 질문있어요
    질문입니다 알고 싶어 싶어요 싶은데 싶습니다 싶다 했는데 하는데 인데 그리고 근데 그런데
    제가 저는 나는 내가 우리 우리가 저희 저희가 거예 거예요 건가 거지 거랑 게 건지 거죠
    거에요 건가요 걸까 건데요 요즘 지금 이제 같은 같이요 ㅋㅋ ㅎㅎ ㅠㅠ 대해 대해서 관해
    관해서 뭐야요 해줘 해주세요 부탁 부탁해요 부탁드려요 감사 감사합니다 ㄱㄱ 님 분 씨 is
    the a an to of in on do does it this that please
    me i you can how
    대체 도대체 모르겠 모르겠어 모르겠어요 모르겠네요 쉽게 뜻 좀요 부탁드려요 궁금해요 궁금한 궁금한데
    그니까 그러니까 아니 진짜 정말 음 흠 안녕하세 안녕하세요 안녕 다름 다름이 솔직히 그래서 약간 제발 빨리
    급하게 혹시나 오늘 어제 방금 아까 하루종일 원래 일단 우선 한번 그럼 그러면 암튼 아무튼 헷갈려
    헷갈려요 헷갈리 헷갈리네요 이해 감이 잘 많이 너무 계속 자꾸 막 뭔가 어떤 이렇게 저렇게 그렇게 이런
    저런 그런 처럼 이런식 이런거 저런거 어떻게함 어케함 어떡함 어떻게해 어떻게해요 어케해 어케해요
    어떻게하나요 어떻게돼 어떻게되나요 어떻게하죠 어떻게하지 어떡하죠 어떡하지
    """.split()  # noqa: SIM905 - a word list reads best as text
)

_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A Latin "term": letters/digits joined by the punctuation commands use (data:/app/data, depends_on,
# kube-proxy, docker-compose.yaml, 27017), optionally a leading dash for flags (-v, --rm).
_TERM = re.compile(r"-{0,2}[a-z0-9](?:[a-z0-9_./:=@+-]*[a-z0-9])?|/[a-z0-9][a-z0-9_./-]*")
_HANGUL_RUN = re.compile(r"[가-힣]+")
_PIECE = re.compile(r"[a-z0-9][a-z0-9_./:=@+-]*|/[a-z0-9_./-]+|[가-힣]+|-{1,2}[a-z0-9]+")
_TERM_PARTS = re.compile(r"[a-z0-9]+")
_HANGUL = re.compile(r"[가-힣]")
_HANGUL_WORD = re.compile(r"[가-힣]+")
_LATIN = re.compile(r"[a-z]")
_COMPAT_JAMO = re.compile(r"[\u3131-\u318e\u1100-\u11ff]+")


def clean_text(text: str, limit: int = MAX_MATCH_CHARS, *, keep_jamo: bool = False) -> str:
    """The one normaliser of user text: NFKC, lower case, no Slack markup, no invisible or control
    characters; at most `limit` characters. Lone jamo (ㅋㅋ, ㅠㅠ) go unless `keep_jamo` (small_talk)."""
    text = text[:MAX_RAW_CHARS]
    text = strip_for_matching(text)
    text = unicodedata.normalize("NFKC", text).lower()
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    if not keep_jamo:
        # NFKC turns compatibility jamo (ㅋㅋ) into conjoining jamo; those are laughter/typing noise here.
        text = _COMPAT_JAMO.sub(" ", text)
    return " ".join(text.split())[:limit]


# Casual noise that is not a question: laughter and crying, thanks, greetings, acknowledgements. Every
# word of the message must be one of these (ㅋㅋ 볼륨이 뭐야 is a question). NFKC turns compatibility jamo
# (ㅋ U+314B) into conjoining ones (U+110F), so both ranges are matched.
_NOISE_JAMO = "\u3131-\u318e\u1100-\u11ff"
SMALL_TALK_PATTERNS = {
    "thanks": re.compile(
        r"(?:감사|고마|고맙|땡큐|땡스|thanks?|thx|ty|ㄱㅅ|ㄳ|\u1100\u1109|\u1100\u11aa)[가-힣a-z]*"
    ),
    "greeting": re.compile(r"(?:안녕|하이|헬로|반가|hi|hello|hey|ㅎㅇ|\u1112\u110b)[가-힣]*"),
    "ack": re.compile(
        r"(?:네+|넵+|넹|예|응+|웅|ㅇㅇ|ㅇㅋ|\u110b\u110b|\u110b\u110f|오케이|ok|okay|굿|good|알겠[가-힣]*|"
        r"좋아요|좋네요|오+|와+|우와|대박|헐|아하|그렇군요|그렇구나)"
    ),
    "laugh": re.compile(rf"(?:[{_NOISE_JAMO}]+|[크킄큐]+|[하호헤히]{{2,}}|lol|ㄷㄷ)"),
}


def small_talk(text: str) -> str | None:
    """The kind of casual noise a message is ("thanks", "greeting", "ack", "laugh"), or None.

    A message of several kinds is the most telling one (thanks > greeting > ack > laugh)."""
    text = clean_text(text, 200, keep_jamo=True)
    words = re.sub(rf"[^0-9a-z가-힣{_NOISE_JAMO}]+", " ", text).split()
    if not words or len(words) > 6:
        return None
    kinds = set()
    for word in words:
        kind = next((k for k, p in SMALL_TALK_PATTERNS.items() if p.fullmatch(word)), None)
        if kind is None:
            return None
        kinds.add(kind)
    return next(k for k in SMALL_TALK_PATTERNS if k in kinds)


def has_content(text: str) -> bool:
    """True when the cleaned text has at least one Hangul syllable, Latin letter or digit."""
    return any(ch.isalnum() for ch in clean_text(text))


def jamo(text: str) -> str:
    """Hangul syllables as conjoining jamo: 볼룸 and 볼륨 then differ by one letter, not one syllable."""
    return unicodedata.normalize("NFD", text)


def strip_suffix(word: str, protected: frozenset[str] = frozenset(), min_stem: int = 2) -> tuple[str, bool]:
    """Strip up to three particles/endings from a Hangul word. Returns (stem, was it a definition ending)."""
    definition = False
    for _ in range(3):
        if word in protected:
            break
        # Longest suffix first; a set lookup per length instead of scanning the whole list.
        for size in range(min(_SUFFIX_MAX, len(word) - 1), 0, -1):
            suffix = word[-size:]
            if suffix in _SUFFIX_SET:
                stem = word[:-size]
                if len(stem) >= min_stem or stem in protected:
                    definition = definition or suffix in _DEFINITION_SUFFIXES
                    word = stem
                    break
        else:
            break
    return word, definition


# What a `-v`/compose volume spec says, as one token each: `./data:/app/data` (a host path: bind mount),
# `myvol:/data` (a name: named volume), `-v /app/data` (no source: anonymous volume). The literal paths
# differ in every question; the kind of spec is what tells the three topics apart.
MOUNT_BIND, MOUNT_NAMED, MOUNT_ANONYMOUS = "v:bind", "v:named", "v:anonymous"
MARK_PREFIXES = ("q:", "v:")
_MOUNT_WORD = {MOUNT_BIND: "바인드마운트", MOUNT_NAMED: "명명된", MOUNT_ANONYMOUS: "익명"}
_MOUNT_SPEC = re.compile(r"^[\"'\[(]*(?P<src>[a-z]:\\[^\s:\"']*|[^\s:\"']+)[\"']?:(?P<dst>/(?!/)[^\s\"']*)")
_MOUNT_FLAGS = frozenset({"-v", "--volume", "--mount"})
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")


def mount_kind(chunk: str, previous: str) -> str | None:
    """The kind of volume spec a whitespace-separated chunk is, if it is one."""
    spec = _MOUNT_SPEC.match(chunk)
    if spec is not None:
        src = spec.group("src").lstrip("-")
        if src.startswith(("/", ".", "~", "$", "%", "\\")) or "/" in src or "\\" in src or "pwd" in src:
            return MOUNT_BIND
        if _NAME.fullmatch(src) and not src.isdigit():
            return MOUNT_NAMED
        return None
    if previous in _MOUNT_FLAGS and chunk.startswith("/") and ":" not in chunk:
        return MOUNT_ANONYMOUS
    return None


def raw_tokens(text: str, protected: frozenset[str] = frozenset()) -> list[str]:
    """Vocabulary-free tokens of already cleaned text (see clean_text)."""
    tokens: list[str] = []
    previous = ""
    for chunk in text.split():
        kind = mount_kind(chunk, previous)
        if kind is not None:
            # The marker, and the word people use for it, so the spec meets the entries' own wording.
            tokens += [kind, _MOUNT_WORD[kind]]
        previous = chunk
        # A "word" longer than this is a paste (hash, base64, key mash), not something to match on.
        pieces = [p for p in _PIECE.findall(chunk) if len(p) <= MAX_WORD_CHARS]
        after_latin = False
        for piece in pieces:
            if _HANGUL.match(piece):
                if after_latin and piece in _SUFFIX_SET:
                    # "k8s에서", "volume이": a Hangul run glued to an English word is usually a particle.
                    if piece in _DEFINITION_SUFFIXES:
                        tokens.append(QUESTION_TOKEN)
                elif after_latin:
                    stem, definition = strip_suffix(piece, protected, min_stem=0)
                    if definition:
                        tokens.append(QUESTION_TOKEN)
                    if stem and stem not in _SUFFIX_SET:
                        tokens.extend(_hangul_token(stem, protected))
                else:
                    tokens.extend(_hangul_token(piece, protected))
                after_latin = False
            else:
                # Trailing punctuation goes; a leading "/" stays: "/app/data" (a path) is not "app/data".
                term = piece.rstrip("./:=@+_").lstrip(".:=@+_")
                if not term or term == "-" or term == "--":
                    continue
                if term in QUESTION_WORDS:
                    tokens.append(QUESTION_TOKEN)
                    continue
                tokens.append(term)
                parts = _TERM_PARTS.findall(term)
                if len(parts) > 1 or (parts and parts[0] != term):
                    tokens.extend(p for p in parts if p != term and len(p) > 1)
                after_latin = True
    return tokens


def _hangul_token(word: str, protected: frozenset[str]) -> list[str]:
    if word in QUESTION_WORDS:
        return [QUESTION_TOKEN]
    if word in STOPWORDS and word not in protected:
        # Checked before stripping too: 설명해주세요 must not survive as the stem 설명해주세.
        return []
    if word in _SUFFIX_SET and word not in protected:
        # A particle or ending written apart ("3 으로", "했더니"): no content of its own.
        return [QUESTION_TOKEN] if word in _DEFINITION_SUFFIXES else []
    stem, definition = strip_suffix(word, protected)
    out = [stem]
    if stem in QUESTION_WORDS:
        out = [QUESTION_TOKEN]
    if definition:
        out.append(QUESTION_TOKEN)
    return out


# Word shapes that carry no topic: predicates (past tense ends in a ㅆ final: 했/봤/됐/맞았; reported or
# hedged endings) and counted quantities (여러개, 두 번씩). Used only for words the knowledge base never
# uses, so that a long, chatty question is not penalised for its verbs.
_PREDICATE_ENDINGS = re.compile(
    r"(?:더라|더라구|더라고|거든|는거|는게|은거|은게|하게|되게|던|겠|을수|수있|봐|봤|해보|하자|을까|할까|"
    r"을래|할래|줄래|지만|는데|은데|던데)$"
)
# 이러면, 그러시더라구요, 그런건가요, 저렇게: "like this/that" predicates point back at the question itself.
_DEMONSTRATIVE = re.compile(
    r"^(?:(?:이러|그러|저러)[가-힣]{0,4}|(?:이런|그런|저런|이렇|그렇|저렇)[가-힣]{0,3}|(?:이래|그래|저래)[서도요야]?)$"
)
_COUNTED = re.compile(
    r"^(?:여러|몇|한|두|세|네|다섯|여섯|열|스무|수십|수백|수천|몇십|[0-9]+)?(?:개|대|번|명|군데|가지|줄)(?:씩|나|도|째)?$"
)


def is_filler_shape(word: str) -> bool:
    """True for a Hangul word shaped like a predicate or a counted quantity (no topic of its own)."""
    if not _HANGUL_WORD.fullmatch(word):
        return False
    if _COUNTED.match(word) or _DEMONSTRATIVE.match(word):
        return True
    last = unicodedata.normalize("NFD", word[-1])
    # U+11BB is the final consonant ㅆ: 했, 봤, 됐, 었, 았 - Korean nouns practically never end in it.
    return last.endswith("\u11bb") or bool(_PREDICATE_ENDINGS.search(word))


def syllable_ngrams(tokens: Sequence[str]) -> list[str]:
    """Syllable 2- and 3-grams inside each token: partial overlap for compounds, typos and spacing slips.

    Not across token boundaries: junction grams ("는볼" from "쓰는 볼륨") are rare, so their high idf
    would swamp the overlap measures with noise.
    """
    grams: list[str] = []
    for token in tokens:
        if token.startswith((*MARK_PREFIXES, "-")) or len(token) < 3:
            continue
        word = re.sub(r"[^0-9a-z가-힣]", "", token)
        grams += [word[i : i + 2] for i in range(len(word) - 1)]
        grams += [word[i : i + 3] for i in range(len(word) - 2)]
    return grams


class Analyzer:
    """Tokenizer bound to one knowledge base: typo correction against its words, then its synonyms."""

    # Jamo similarity (0–100) a word the KB never uses needs to be read as a KB word.
    TYPO_CUTOFF = 80
    _CACHE_SIZE = 4096

    def __init__(
        self,
        synonyms: Mapping[str, Iterable[str]],
        vocabulary_texts: Iterable[str],
        known_raw: Mapping[str, list[str]] | None = None,
    ):
        """`known_raw`: raw tokens of the texts, cached by this same code (bot/snapshot_cache.py)."""
        canonical_terms = {self._canonical(c) for c in synonyms}
        alias_words: set[str] = set()
        for canonical, aliases in synonyms.items():
            alias_words.add(self._canonical(canonical))
            for alias in aliases:
                alias_words.update(raw_tokens(clean_text(alias)))
        self.protected = frozenset(canonical_terms | {w for w in alias_words if _HANGUL.search(w)})
        # alias token tuple -> canonical; longest aliases are tried first.
        self._aliases: dict[tuple[str, ...], str] = {}
        for canonical, aliases in synonyms.items():
            target = self._canonical(canonical)
            for alias in (canonical, *aliases):
                toks = tuple(raw_tokens(clean_text(alias), self.protected))
                if toks:
                    self._aliases.setdefault(toks, target)
                squeezed = clean_text(alias).replace(" ", "")
                if squeezed:
                    self._aliases.setdefault((squeezed,), target)
        self._max_alias = max((len(k) for k in self._aliases), default=1)
        vocab: set[str] = set(alias_words) | set(self._canonical(c) for c in synonyms)
        # Raw tokens of the KB's own texts, kept for the index build that follows (tokens() reuses them).
        known_raw = known_raw or {}
        self._raw_memo: dict[str, list[str]] = {
            text: known_raw[text] if text in known_raw else raw_tokens(clean_text(text), self.protected)
            for text in vocabulary_texts
        }
        for raw in self._raw_memo.values():
            vocab.update(raw)
        vocab.discard(QUESTION_TOKEN)
        self.vocabulary = frozenset(vocab)
        # Words trusted as pieces when splitting run-together text: known terms and words the KB uses at
        # least twice (a one-off word is often itself an unspaced phrase such as 볼륨이뭔지설명좀).
        seen: dict[str, int] = {}
        for raw in self._raw_memo.values():
            for word in set(raw):
                seen[word] = seen.get(word, 0) + 1
        self._pieces = frozenset(
            w
            for w in vocab
            if _HANGUL_WORD.fullmatch(w) and len(w) >= 2 and (seen.get(w, 0) >= 2 or w in alias_words)
        )
        targets = sorted(w for w in vocab if self._typo_candidate(w))
        # Candidates bucketed by jamo length: a typo is compared only with words it could be (see correct).
        self._typo_buckets: dict[int, tuple[list[str], list[str]]] = {}
        for word in targets:
            spelled = jamo(word)
            words, spellings = self._typo_buckets.setdefault(len(spelled), ([], []))
            words.append(word)
            spellings.append(spelled)
        # Per analyzer (a reload builds a new one, dropping its caches); lru_cache is thread-safe.
        self.correct = functools.lru_cache(maxsize=self._CACHE_SIZE)(self._correct)
        self.split = functools.lru_cache(maxsize=self._CACHE_SIZE)(self._split)

    @staticmethod
    def _canonical(term: str) -> str:
        return clean_text(term).replace(" ", "")

    @staticmethod
    def _typo_candidate(word: str) -> bool:
        if word.startswith(MARK_PREFIXES):
            return False
        if _HANGUL.search(word):
            return len(word) >= 2
        return len(word) >= 4 and bool(_LATIN.search(word))

    def _correct(self, word: str) -> str:
        """The KB word a misspelt word most likely means, or the word itself (cached as `correct`)."""
        if word in self.vocabulary or not self._typo_candidate(word) or word in STOPWORDS:
            return word
        spelled = jamo(word)
        fixed, best = word, 0.0
        # Short words may only swap letters (볼룸->볼륨, 익멍->익명): adding or dropping a letter turns
        # too many real words into KB words (키보드->코드, 이사->입사), and a length change must be
        # small relative to the word (쿠버네티스느->쿠버네티스 yes, 파이프라인->오프라인 no).
        allowed = 0 if len(word) <= 3 else 1 if len(word) <= 5 else 2
        for size in range(len(spelled) - allowed, len(spelled) + allowed + 1):
            bucket = self._typo_buckets.get(size)
            if bucket is None:
                continue
            found = process.extractOne(spelled, bucket[1], scorer=fuzz.ratio, score_cutoff=self.TYPO_CUTOFF)
            # A short word whose first letter differs is another word, not a typo of it: 시간/기간,
            # 사진/가진, 프리즈/브리지, 내일/개일 (dev questions); 볼룸/볼륨, 익멍/익명 keep theirs.
            if found is not None and len(word) <= 3 and found[0][0] != spelled[0]:
                found = None
            if found is not None and found[1] > best:
                fixed, best = bucket[0][found[2]], found[1]
        return fixed

    def _split(self, word: str) -> list[str] | None:
        """Split run-together Hangul (쿠버네티스쓰는이유) into known words, or None (cached as `split`).
        Callers must not change the list returned: it is the cached one."""
        if len(word) < 4 or len(word) > 40 or word in self._pieces or not _HANGUL_WORD.fullmatch(word):
            return None
        n = len(word)
        # best[i] = (cost, pieces) for word[:i]; a known word costs 1, a particle/stop word 1.5, a stray
        # syllable 3, so the split prefers few, long, known pieces.
        best: list[tuple[float, list[tuple[str, str]]] | None] = [None] * (n + 1)
        best[0] = (0.0, [])
        for i in range(1, n + 1):
            for j in range(max(0, i - 10), i):
                before = best[j]
                if before is None:
                    continue
                piece = word[j:i]
                if piece in self._pieces:
                    cost, kind = 1.0, "word"
                elif piece in _SUFFIX_SET or piece in STOPWORDS or piece in QUESTION_WORDS:
                    cost, kind = 1.5, "function"
                elif i - j == 1:
                    cost, kind = 3.0, "stray"
                else:
                    continue
                total = before[0] + cost
                current = best[i]
                if current is None or total < current[0]:
                    best[i] = (total, [*before[1], (piece, kind)])
        result: list[str] | None = None
        last = best[n]
        if last is not None:
            pieces = last[1]
            known = sum(len(p) for p, kind in pieces if kind == "word")
            stray = sum(1 for _, kind in pieces if kind == "stray")
            if len(pieces) > 1 and known >= 2 and stray * 3 <= n:
                result = []
                for piece, kind in pieces:
                    if piece in QUESTION_WORDS:
                        result.append(QUESTION_TOKEN)
                    elif kind == "word":
                        result.append(piece)
        return result

    def build_raw_tokens(self) -> dict[str, list[str]]:
        """The raw tokens of the KB texts (until forget_build_texts), for the cache."""
        return dict(self._raw_memo)

    def forget_build_texts(self) -> None:
        """Drop the raw tokens kept for the index build (they are not needed to answer questions)."""
        self._raw_memo = {}

    def _drop_unknown_path_parts(self, words: list[str]) -> list[str]:
        """Paths and names in a command (/usr/share/nginx/html, myproject) are the user's own: unknown ones
        say nothing about the topic and must not count as words the knowledge base has never seen."""
        out = []
        path = ""
        for word in words:
            if "/" in word or ":" in word:
                path = word
                if word not in self.vocabulary and not word.startswith(MARK_PREFIXES):
                    continue
            elif path and word not in self.vocabulary and word in path:
                continue
            elif not (path and word in path):
                path = ""
            out.append(word)
        return out

    def tokens(self, text: str) -> list[str]:
        """Normalised content tokens of `text`: typo-corrected, synonyms mapped, stop words dropped."""
        words = []
        raw = self._raw_memo.get(text) if self._raw_memo else None
        for word in raw if raw is not None else raw_tokens(clean_text(text), self.protected):
            pieces = self.split(word) if word not in self._pieces else None
            if pieces is not None:
                words.extend(pieces)
            else:
                words.append(self.correct(word))
        words = self._drop_unknown_path_parts(words)
        out: list[str] = []
        i = 0
        n = len(words)
        while i < n:
            for size in range(min(self._max_alias, n - i), 0, -1):
                canonical = self._aliases.get(tuple(words[i : i + size]))
                if canonical is not None:
                    out.append(canonical)
                    i += size
                    break
            else:
                word = words[i]
                if word not in STOPWORDS and (word in self.vocabulary or not is_filler_shape(word)):
                    out.append(word)
                i += 1
        return out
