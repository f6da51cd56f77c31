"""Normalisation of casual Korean + English technical text (bot/korean.py)."""

from __future__ import annotations

import pytest

from bot.korean import (
    MAX_MATCH_CHARS,
    MOUNT_ANONYMOUS,
    MOUNT_BIND,
    MOUNT_NAMED,
    QUESTION_TOKEN,
    Analyzer,
    clean_text,
    is_filler_shape,
    jamo,
    raw_tokens,
    strip_suffix,
)
from bot.markup import strip_for_matching

SYNONYMS = {
    "볼륨": ["volume", "volumes", "보륨"],
    "쿠버네티스": ["kubernetes", "k8s", "쿠베"],
    "의존성": ["depends_on", "depends on"],
    "api서버": ["api server", "kube-apiserver"],
    "컴포즈": ["docker compose", "docker-compose", "도커 컴포즈"],
    "스케줄러": ["scheduler", "kube-scheduler"],
}
TEXTS = [
    "명명된 볼륨이 뭐야?",
    "docker run -v data:/app/data 하면 data는 어디 저장돼?",
    "쿠버네티스 스케줄러는 무슨 일을 해?",
    "컨테이너 이유",
    "컨테이너 쓰는 이유",
    "볼륨 이유 쓰는",
]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(SYNONYMS, TEXTS)


def test_slack_markup_is_removed_but_link_labels_and_code_text_stay():
    text = "<@U123ABC> <!channel> 이거 봐 <https://docs.docker.com|도커 문서> `docker ps` <#C1|dev>"
    cleaned = strip_for_matching(text)
    assert "<" not in cleaned and "@U123" not in cleaned and "channel" not in cleaned
    assert "도커 문서" in cleaned and "docker ps" in cleaned and "dev" in cleaned


def test_clean_text_nfkc_case_invisible_and_control_characters():
    assert clean_text("ＤＯＣＫＥＲ\u200b 볼륨\x00\x07") == "docker 볼륨"
    assert clean_text("a" * 100_000) == "a" * MAX_MATCH_CHARS


def test_particles_and_endings_are_stripped_to_one_word():
    stems = {strip_suffix(w)[0] for w in ["볼륨이", "볼륨은", "볼륨을", "볼륨에서는"]}
    assert stems == {"볼륨"}


def test_question_words_become_one_token_and_란_means_what_is():
    assert raw_tokens(clean_text("볼륨 뭐야")) == ["볼륨", QUESTION_TOKEN]
    assert raw_tokens(clean_text("볼륨이란")) == ["볼륨", QUESTION_TOKEN]
    assert raw_tokens(clean_text("볼륨이 무엇인가요")) == ["볼륨", QUESTION_TOKEN]


def test_commands_and_english_terms_stay_whole():
    tokens = raw_tokens(clean_text("docker run -v data:/app/data 하면"))
    assert "-v" in tokens and "data:/app/data" in tokens
    assert "depends_on" in raw_tokens(clean_text("depends_on은 뭐임"))
    assert "kube-proxy" in raw_tokens(clean_text("kube-proxy 는?"))


def test_particle_glued_to_an_english_word_is_dropped():
    assert raw_tokens(clean_text("k8s에서")) == ["k8s"]
    assert raw_tokens(clean_text("volume이란")) == ["volume", QUESTION_TOKEN]


def test_synonyms_map_english_and_korean_aliases_to_one_term(analyzer: Analyzer):
    assert analyzer.tokens("k8s에서 api server가 뭐야") == ["쿠버네티스", "api서버", QUESTION_TOKEN]
    assert analyzer.tokens("depends_on 은 뭐임") == ["의존성", QUESTION_TOKEN]
    assert analyzer.tokens("도커컴포즈") == ["컴포즈"]
    assert analyzer.tokens("kube-apiserver는?") == ["api서버"]


def test_typos_are_corrected_against_the_knowledge_vocabulary(analyzer: Analyzer):
    assert analyzer.tokens("스케쥴러") == ["스케줄러"]
    assert "쿠버네티스" in analyzer.tokens("쿠버네티스느 뭐야")
    assert analyzer.tokens("명멍된 볼륨") == analyzer.tokens("명명된 볼륨")
    # A word nowhere near the vocabulary is left alone.
    assert analyzer.tokens("점심메뉴") == ["점심메뉴"]


def test_run_together_text_is_split_into_known_words(analyzer: Analyzer):
    assert analyzer.tokens("컨테이너쓰는이유") == ["컨테이너", "쓰는", "이유"]


def test_jamo_makes_one_letter_typos_small():
    assert jamo("볼룸") != jamo("볼륨")
    assert len(jamo("볼륨")) == 6  # ㅂ ㅗ ㄹ ㄹ ㅠ ㅁ


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂", "<!channel>", "\x00\x01", "ㅋㅋㅋㅋ", "?!.,"])
def test_unusable_text_gives_no_tokens(analyzer: Analyzer, text: str):
    assert analyzer.tokens(text) == []


def test_request_endings_and_fillers_leave_no_stray_stems(analyzer: Analyzer):
    # 설명해주세요 once survived as the stem 설명해주세; fillers and request endings carry no topic.
    assert analyzer.tokens("볼륨 설명해주세요") == ["볼륨"]
    assert analyzer.tokens("대체 볼륨이 뭔지 모르겠어요 쉽게 좀요 부탁드려요") == ["볼륨", QUESTION_TOKEN]


def test_unknown_predicates_and_counts_are_not_topic_words(analyzer: Analyzer):
    # Verb forms the knowledge base never uses (깔아봤거든요, 쳐봤더니) and counted quantities (스무개)
    # must not look like unknown topics; an unknown noun (점심메뉴) still does.
    assert analyzer.tokens("볼륨 깔아봤거든요 쳐봤더니 스무개") == ["볼륨"]
    assert analyzer.tokens("삽질했어요") == ["삽질"]  # a 하다 verb keeps its noun
    assert is_filler_shape("맞았") and is_filler_shape("여러개") and not is_filler_shape("점심")


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("docker run -v ./data:/app/data img", MOUNT_BIND),
        ("-v $(pwd):/app", MOUNT_BIND),
        ('-v "$PWD":/app', MOUNT_BIND),
        ("- ~/project:/app", MOUNT_BIND),
        ("-v myvol:/data", MOUNT_NAMED),
        ("-v data:/app/data 하면", MOUNT_NAMED),
        ("docker run -v /app/data img", MOUNT_ANONYMOUS),
    ],
)
def test_volume_specs_say_what_kind_of_mount_they_are(command: str, kind: str):
    tokens = raw_tokens(clean_text(command))
    assert kind in tokens
    assert not {MOUNT_BIND, MOUNT_NAMED, MOUNT_ANONYMOUS} - {kind} & set(tokens)


@pytest.mark.parametrize(
    "text", ["mongodb://mongodb:27017", "nginx:1.25", "http://localhost:8080/app", "VOLUME /data"]
)
def test_urls_image_tags_and_bare_paths_are_not_volume_specs(text: str):
    assert not {MOUNT_BIND, MOUNT_NAMED, MOUNT_ANONYMOUS} & set(raw_tokens(clean_text(text)))


def test_unknown_paths_in_commands_are_dropped_known_ones_stay(analyzer: Analyzer):
    tokens = analyzer.tokens("docker run -v ./html:/usr/share/nginx/html nginx")
    assert MOUNT_BIND in tokens and "/usr/share/nginx/html" not in tokens and "share" not in tokens
    assert "data:/app/data" in analyzer.tokens("-v data:/app/data")


def test_a_short_word_with_another_first_letter_is_not_read_as_a_kb_word():
    analyzer = Analyzer(SYNONYMS, [*TEXTS, "롤링 업데이트 기간", "브리지 네트워크"])
    assert analyzer.tokens("시간") == ["시간"]  # one letter from 기간, but an everyday word of its own
    assert analyzer.tokens("프리즈") == ["프리즈"]  # not 브리지
    assert analyzer.tokens("볼룸") == ["볼륨"]  # a vowel slip keeps the first letter: still corrected


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ㅋㅋㅋ", "laugh"),
        ("ㅠㅠ", "laugh"),
        ("ㄱㅅ", "thanks"),
        ("감사합니다!! ㅎㅎ", "thanks"),
        ("<@U0123> 고마워요", "thanks"),
        ("안녕하세요", "greeting"),
        ("넵 알겠습니다", "ack"),
        ("ㅋㅋ 볼륨이 뭐야", None),
        ("감사 로그 보는 법", None),
        ("", None),
    ],
)
def test_small_talk_is_recognised_only_when_nothing_else_is_said(text, kind):
    from bot.korean import small_talk

    assert small_talk(text) == kind


def test_misspelt_question_endings_read_as_the_question_word():
    from bot.korean import QUESTION_TOKEN, clean_text, raw_tokens

    for misspelt in ("볼륨이 머예요?", "볼륨이 뭐에여", "볼륨 머임"):
        assert raw_tokens(clean_text(misspelt)) == ["볼륨", QUESTION_TOKEN], misspelt
    assert raw_tokens(clean_text("볼륨 마운트 어떻게함")) == raw_tokens(clean_text("볼륨 마운트 어떻게"))
