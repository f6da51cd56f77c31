"""The words people type to ask for help or for the demo list, the same in every door (terminal chat, Slack).

They were kept by each door and disagreed (the chat took "/도움말" but not "사용법", Slack's /demo took "ls"
but the chat's /demo did not). Compared after trimming and lower-casing.
"""

from __future__ import annotations

HELP_WORDS = frozenset({"help", "/help", "도움말", "/도움말", "도움", "사용법", "?"})
# `/demo` alone, or followed by one of these, shows the list instead of running a demo.
DEMO_LIST_WORDS = frozenset({"", "list", "--list", "ls", "목록", "리스트", "help", "도움말"})
QUIT_WORDS = frozenset({"/quit", "/exit", "/q", "/끝"})


def _word(text: str) -> str:
    return " ".join(text.split()).lower()


def asks_for_help(text: str) -> bool:
    return _word(text) in HELP_WORDS


def asks_for_demo_list(argument: str) -> bool:
    return _word(argument) in DEMO_LIST_WORDS
