"""Reach the Kubernetes cluster the admins configured for demos, and nothing else.

`DOCKBOT_KUBECONFIG` names a kubeconfig file (its current context, or `DOCKBOT_KUBE_CONTEXT`), or is the
word `in-cluster` for the service account of the pod the bot runs in. The user's own ~/.kube/config and
KUBECONFIG are never read: a demo runs only where an admin pointed it. First contact is one `GET /version`
with a short timeout and no retries, so a cluster that is down or hung is reported (in Korean) in about two
seconds. The `kubernetes` package is imported only here and only when a Kubernetes demo is asked for.

`KubePlatform` is what DemoService calls for scenarios with `platform: kubernetes`: connect, run, sweep.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from bot.demos.errors import EngineUnavailable

if TYPE_CHECKING:
    from bot.demos.result import DemoRun, ProgressCallback
    from bot.demos.scenario import Scenario

log = logging.getLogger(__name__)

IN_CLUSTER = "in-cluster"
CONNECT_TIMEOUT_S = 1.0  # a cluster answers /version in milliseconds; the user hears within 2 s


class ClusterUnavailable(EngineUnavailable):
    """The demo cluster is not configured, cannot be reached, or refuses the bot's credentials."""


def not_configured() -> ClusterUnavailable:
    return ClusterUnavailable(
        "쿠버네티스 데모용 클러스터가 설정되어 있지 않습니다. "
        "관리자가 DOCKBOT_KUBECONFIG 를 설정해야 합니다.",
        "no demo cluster configured (DOCKBOT_KUBECONFIG)",
    )


def cluster_unavailable(where: str, detail: object) -> ClusterUnavailable:
    return ClusterUnavailable(
        f"쿠버네티스 클러스터에 연결할 수 없습니다 ({where}). 클러스터가 켜져 있는지, "
        "DOCKBOT_KUBECONFIG 가 맞는지 확인해 주세요.",
        f"kubernetes cluster unreachable ({where}): {detail}",
    )


def connect_cluster(kubeconfig: str, context: str = "") -> Any:
    """An ApiClient for the configured cluster that answered `GET /version` just now."""
    if not kubeconfig:
        raise not_configured()
    try:
        from kubernetes import client, config
    except ImportError:
        raise ClusterUnavailable(
            "쿠버네티스 데모에 필요한 kubernetes 파이썬 패키지가 설치되어 있지 않습니다 "
            "(pip install 'dockbot[kubernetes]').",
            "python package kubernetes missing",
        ) from None
    configuration = client.Configuration()
    where = kubeconfig
    try:
        if kubeconfig == IN_CLUSTER:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=kubeconfig,
                context=context or None,
                client_configuration=configuration,
                persist_config=False,
            )
        where = configuration.host
    except Exception as exc:  # the loaders raise ConfigException, OSError, yaml errors, KeyError, ...
        raise cluster_unavailable(where, f"{type(exc).__name__}: {exc}") from None
    configuration.retries = 0  # urllib3 would retry a refused connection three times
    api = client.ApiClient(configuration)
    try:
        version = ping(api)
    except ClusterUnavailable:
        api.close()
        raise
    log.info("demo cluster %s answers (Kubernetes %s)", where, version)
    return api


def ping(api: Any) -> str:
    """The cluster's version, or ClusterUnavailable unless it answers within the connect timeout."""
    from kubernetes import client

    try:
        return (
            client.VersionApi(api)
            .get_code(_request_timeout=(CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S))
            .git_version
        )
    except Exception as exc:  # ApiException (401, 403, ...), urllib3 errors, OSError
        raise cluster_unavailable(api.configuration.host, f"{type(exc).__name__}: {exc}") from None


class KubePlatform:
    """The Kubernetes side of DemoService: one cached ApiClient, checked again before each run."""

    name = "kubernetes"

    def __init__(self, kubeconfig: str, *, context: str = "", image: str, pull_policy: str = "IfNotPresent"):
        self.kubeconfig = kubeconfig
        self.context = context
        # Where a run's objects live, as the shared slot board records it (for sweeping a dead run).
        self.host = f"kubernetes:{context or 'current-context'}"
        self.image = image
        self.pull_policy = pull_policy
        self._api: Any = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.kubeconfig)

    def connect(self) -> Any:
        with self._lock:
            api, self._api = self._api, None
        if api is not None:
            try:
                ping(api)
            except ClusterUnavailable:
                api.close()
                api = None  # the cluster may have restarted: one fresh try
        if api is None:
            api = connect_cluster(self.kubeconfig, self.context)
        with self._lock:
            if self._api is not None:
                self._api.close()
            self._api = api
        return api

    def run(
        self,
        api: Any,
        scenario: Scenario,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        run_id: str | None = None,
    ) -> DemoRun:
        from bot.demos.kube_runner import run_kube_scenario

        return run_kube_scenario(
            api,
            scenario,
            image=self.image,
            pull_policy=self.pull_policy,
            on_progress=on_progress,
            cancel=cancel,
            run_id=run_id,
        )

    def sweep(self, api: Any) -> list[str]:
        from bot.demos.kube_cleanup import sweep_namespaces

        return sweep_namespaces(api)

    def sweep_run(self, run_id: str) -> bool:
        """Delete one (dead replica's) run's namespace; True when it is gone."""
        from bot.demos.kube_cleanup import sweep_run

        return sweep_run(self.connect(), run_id)

    def close(self) -> None:
        with self._lock:
            api, self._api = self._api, None
        if api is not None:
            api.close()
