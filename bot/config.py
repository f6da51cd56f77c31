"""Settings from the environment, read and validated once at start.

Secrets (tokens, signing secret) live only here and in the Slack client; `Settings.__repr__` hides them
so that logging a Settings object never leaks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
DEFAULT_DEMO_IMAGE = "busybox:1.36"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _csv(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path = REPO_KNOWLEDGE_DIR
    db_path: Path | None = None
    demo_image: str = DEFAULT_DEMO_IMAGE
    demo_channels: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    admin_channel: str = ""
    retention_days: int = 90
    max_concurrent_demos: int = 2
    kubeconfig: str = (
        ""  # DOCKBOT_KUBECONFIG: a kubeconfig path, or "in-cluster"; empty = no Kubernetes demos
    )
    kube_context: str = ""
    kube_pull_policy: str = "IfNotPresent"
    port: int = 3000
    slack_api_url: str = ""
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)

    @property
    def has_slack_tokens(self) -> bool:
        return bool(self.slack_bot_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
            return value

        db = env.get("DOCKBOT_DB", "").strip()
        pull_policy = env.get("DOCKBOT_KUBE_PULL_POLICY", "").strip() or "IfNotPresent"
        if pull_policy not in ("IfNotPresent", "Never"):
            raise ConfigError(f"DOCKBOT_KUBE_PULL_POLICY must be IfNotPresent or Never, got {pull_policy!r}")
        return cls(
            knowledge_dir=Path(env.get("DOCKBOT_KNOWLEDGE_DIR", "").strip() or REPO_KNOWLEDGE_DIR),
            db_path=Path(db) if db else None,
            demo_image=env.get("DOCKBOT_DEMO_IMAGE", "").strip() or DEFAULT_DEMO_IMAGE,
            demo_channels=_csv(env.get("DOCKBOT_DEMO_CHANNELS", "")),
            admins=_csv(env.get("DOCKBOT_ADMINS", "")),
            admin_channel=env.get("DOCKBOT_ADMIN_CHANNEL", "").strip(),
            retention_days=integer("DOCKBOT_RETENTION_DAYS", 90, 1, 36500),
            max_concurrent_demos=integer("DOCKBOT_MAX_DEMOS", 2, 1, 64),
            kubeconfig=env.get("DOCKBOT_KUBECONFIG", "").strip(),
            kube_context=env.get("DOCKBOT_KUBE_CONTEXT", "").strip(),
            kube_pull_policy=pull_policy,
            port=integer("PORT", 3000, 1, 65535),
            slack_api_url=env.get("SLACK_API_URL", "").strip(),
            slack_bot_token=env.get("SLACK_BOT_TOKEN", "").strip(),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
            slack_app_token=env.get("SLACK_APP_TOKEN", "").strip(),
        )
