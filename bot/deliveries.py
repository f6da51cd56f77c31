"""Answering each Slack delivery once across replicas.

Slack delivers an event at least once, retries it (X-Slack-Retry-Num) about 0 s, 1 min and 5 min later,
and with several replicas behind one app (HTTP behind a load balancer, or Socket Mode spreading envelopes
over connections) a retry usually lands on another replica. The replica that first inserts the key (the
event id, and channel+message ts for the same message arriving as two event types) into the shared
database answers; the others drop the delivery. While the database cannot say (an outage), this replica's
own memory decides: answering twice in that window beats not answering.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

# After the database failed to answer a claim, ask only this replica's memory for a moment: every event
# must still be acknowledged within Slack's 3 seconds.
LOCAL_ONLY_AFTER_FAILURE_S = 2.0


class FirstTime(Protocol):
    def first_time(self, key: str) -> bool:
        """True exactly once per key (atomically)."""
        ...


class SharedDeliveries:
    def __init__(self, store: Store, local: FirstTime) -> None:
        self._store = store
        self._local = local
        self._lock = threading.Lock()
        self._local_only_until = 0.0

    def first_time(self, key: str) -> bool:
        first_here = self._local.first_time(key)  # also remembered locally, for when the database is gone
        if not first_here or time.monotonic() < self._local_only_until:
            return first_here
        claimed = self._store.claim_key(key)
        if claimed is None:
            with self._lock:
                self._local_only_until = time.monotonic() + LOCAL_ONLY_AFTER_FAILURE_S
            log.warning(
                "delivery %s: the shared dedupe did not answer; this replica decides alone for %.0f s",
                key,
                LOCAL_ONLY_AFTER_FAILURE_S,
            )
            return first_here
        return claimed
