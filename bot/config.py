"""Settings from the environment, read and validated once at start.

Secrets (tokens, signing secret) live only here and in the Slack client; `Settings.__repr__` hides them
so that logging a Settings object never leaks them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path


def starter_knowledge_dir() -> Path:
    """The knowledge shipped with the package (knowledge/ as package data `bot.starter_knowledge`): the
    default when DOCKBOT_KNOWLEDGE_DIR does not name the admins' copy. A real directory in a regular or
    editable install; the reloader watches it, so a zipped install is not supported."""
    return Path(str(files("bot.starter_knowledge")))


STARTER_KNOWLEDGE_DIR = starter_knowledge_dir()
DEFAULT_DEMO_IMAGE = "busybox:1.36"
DB_URL_SCHEMES = ("postgresql://", "postgres://")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Secret(str):
    """A token or signing secret: a str wherever one is needed (the Slack client, signature checks), but
    its repr (so a logged Settings, a traceback's locals, `%r`) never shows the value."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"


NO_SECRET = Secret("")


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """dockbot's cache directory by the XDG base directory rules: $XDG_CACHE_HOME/dockbot when that is an
    absolute path (a relative one is to be ignored), else ~/.cache/dockbot."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache") / "dockbot"


def _csv(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class DockerHost:
    """One demo engine: a DOCKER_HOST entry and its own TLS settings ("" = the docker SDK's default)."""

    url: str = ""
    tls_verify: str = ""
    cert_path: str = ""

    @property
    def name(self) -> str:
        return self.url or "default"

    def environment(self) -> dict[str, str]:
        """The variables docker.utils.kwargs_from_env reads, for this host alone."""
        env = {
            "DOCKER_HOST": self.url,
            "DOCKER_TLS_VERIFY": self.tls_verify,
            "DOCKER_CERT_PATH": self.cert_path,
        }
        return {k: v for k, v in env.items() if v}


def docker_hosts(env: Mapping[str, str]) -> tuple[DockerHost, ...]:
    """DOCKER_HOST=a,b,c: a pool of demo engines. DOCKER_TLS_VERIFY and DOCKER_CERT_PATH are either one value
    for every host or a comma list with one item per host, in the same order (an empty item: not set)."""
    urls = [part.strip() for part in env.get("DOCKER_HOST", "").split(",")]
    if urls == [""]:
        urls = [""]
    elif "" in urls:
        raise ConfigError("DOCKER_HOST has an empty entry (hosts are separated by single commas)")

    def per_host(name: str) -> list[str]:
        items = [part.strip() for part in env.get(name, "").split(",")]
        if len(items) == 1:
            return items * len(urls)
        if len(items) != len(urls):
            raise ConfigError(
                f"{name} has {len(items)} comma-separated values for {len(urls)} DOCKER_HOST entries: "
                "give one value for all hosts or one per host"
            )
        return items

    return tuple(
        DockerHost(url, tls, certs)
        for url, tls, certs in zip(
            urls, per_host("DOCKER_TLS_VERIFY"), per_host("DOCKER_CERT_PATH"), strict=True
        )
    )


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path = STARTER_KNOWLEDGE_DIR
    db_path: Path | None = None
    # DOCKBOT_DB=postgresql://... (or postgres://): the shared database of several replicas; a path is SQLite.
    db_url: Secret = NO_SECRET  # may hold a password
    demo_image: str = DEFAULT_DEMO_IMAGE
    demo_channels: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    admin_channel: str = ""
    # Ask a human: where "사람에게 물어보기" posts a question the bot could not answer ("" = no button).
    experts_channel: str = ""
    # `dockbot validate`, stats and App Home list entries whose `verified:` date is older than this.
    review_days: int = 180
    retention_days: int = 90
    max_concurrent_demos: int = 2
    # Demo slots shared through PostgreSQL: a replica renews its leases every lease/3 s, and every replica
    # looks for expired leases (a dead replica's runs) every sweep interval and removes those runs' objects.
    demo_lease_s: float = 30.0
    demo_sweep_s: float = 15.0
    docker_hosts: tuple[DockerHost, ...] = (DockerHost(),)
    kubeconfig: str = (
        ""  # DOCKBOT_KUBECONFIG: a kubeconfig path, or "in-cluster"; empty = no Kubernetes demos
    )
    kube_context: str = ""
    kube_pull_policy: str = "IfNotPresent"
    port: int = 3000
    slack_api_url: str = ""
    slack_bot_token: Secret = NO_SECRET
    slack_signing_secret: Secret = NO_SECRET
    slack_app_token: Secret = NO_SECRET
    log_level: str = "INFO"  # DOCKBOT_LOG_LEVEL
    # DOCKBOT_DEMO_EDIT_INTERVAL_S: the least time between two edits of a running demo's Slack message.
    demo_edit_interval_s: float = 1.0
    # DOCKBOT_HTTP_THREADS / DOCKBOT_HTTP_MAX_CONNECTIONS of the HTTP mode server; 0: its defaults.
    http_threads: int = 0
    http_max_connections: int = 0

    @property
    def db_target(self) -> Path | str | None:
        """What Store.open takes: the PostgreSQL URL, the SQLite path, or None (no store)."""
        return self.db_url or self.db_path

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
            # ASCII digits only: int() also takes "٣" or "1_000", which nobody means in a setting.
            if not (raw.isascii() and raw.lstrip("-").isdigit()):
                raise ConfigError(f"{name} must be a whole number, got {raw!r}")
            value = int(raw)
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
            return value

        def seconds(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low:g} and {high:g} seconds, got {value:g}")
            return value

        db = env.get("DOCKBOT_DB", "").strip()
        db_url = db if db.startswith(DB_URL_SCHEMES) else ""
        if db and not db_url and not Path(db).parent.is_dir():
            # Creating it would be a guess (a typo must not make directories, at / least of all).
            raise ConfigError(f"DOCKBOT_DB: the directory {Path(db).parent} does not exist (create it first)")
        log_level = env.get("DOCKBOT_LOG_LEVEL", "").strip().upper() or "INFO"
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"DOCKBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
        pull_policy = env.get("DOCKBOT_KUBE_PULL_POLICY", "").strip() or "IfNotPresent"
        if pull_policy not in ("IfNotPresent", "Never"):
            raise ConfigError(f"DOCKBOT_KUBE_PULL_POLICY must be IfNotPresent or Never, got {pull_policy!r}")
        return cls(
            knowledge_dir=Path(env.get("DOCKBOT_KNOWLEDGE_DIR", "").strip() or STARTER_KNOWLEDGE_DIR),
            db_path=Path(db) if db and not db_url else None,
            db_url=Secret(db_url),
            demo_image=env.get("DOCKBOT_DEMO_IMAGE", "").strip() or DEFAULT_DEMO_IMAGE,
            demo_channels=_csv(env.get("DOCKBOT_DEMO_CHANNELS", "")),
            admins=_csv(env.get("DOCKBOT_ADMINS", "")),
            admin_channel=env.get("DOCKBOT_ADMIN_CHANNEL", "").strip(),
            experts_channel=env.get("DOCKBOT_EXPERTS_CHANNEL", "").strip(),
            review_days=integer("DOCKBOT_REVIEW_DAYS", 180, 1, 36500),
            retention_days=integer("DOCKBOT_RETENTION_DAYS", 90, 1, 36500),
            max_concurrent_demos=integer("DOCKBOT_MAX_DEMOS", 2, 1, 64),
            demo_lease_s=seconds("DOCKBOT_DEMO_LEASE_S", 30.0, 1.0, 300.0),
            demo_sweep_s=seconds("DOCKBOT_DEMO_SWEEP_S", 15.0, 0.2, 300.0),
            docker_hosts=docker_hosts(env),
            kubeconfig=env.get("DOCKBOT_KUBECONFIG", "").strip(),
            kube_context=env.get("DOCKBOT_KUBE_CONTEXT", "").strip(),
            kube_pull_policy=pull_policy,
            port=integer("PORT", 3000, 1, 65535),
            slack_api_url=env.get("SLACK_API_URL", "").strip(),
            slack_bot_token=Secret(env.get("SLACK_BOT_TOKEN", "").strip()),
            slack_signing_secret=Secret(env.get("SLACK_SIGNING_SECRET", "").strip()),
            slack_app_token=Secret(env.get("SLACK_APP_TOKEN", "").strip()),
            log_level=log_level,
            demo_edit_interval_s=seconds("DOCKBOT_DEMO_EDIT_INTERVAL_S", 1.0, 0.1, 60.0),
            http_threads=integer("DOCKBOT_HTTP_THREADS", 0, 1, 1024),
            http_max_connections=integer("DOCKBOT_HTTP_MAX_CONNECTIONS", 0, 1, 100_000),
        )
