"""handlers/http_server.py settings: the connection cap follows the open-files limit; bad values refused."""

from __future__ import annotations

import pytest

from handlers.http_server import RESERVED_FDS, HttpLimits, connection_limit


def test_the_connection_cap_leaves_descriptors_for_everything_else() -> None:
    assert connection_limit(1000, open_files=1024) == 1024 - RESERVED_FDS
    assert connection_limit(1000, open_files=65536) == 1000
    assert connection_limit(1000, open_files=100) == 16  # never below a handful


def test_limits_from_the_environment() -> None:
    limits = HttpLimits.from_env({"DOCKBOT_HTTP_THREADS": "4", "DOCKBOT_HTTP_MAX_CONNECTIONS": "50"})
    assert limits.threads == 4 and limits.connection_limit <= 50
    options = limits.waitress_options()
    assert options["ident"] == "" and options["max_request_body_size"] == 1024 * 1024
    for bad in ("0", "-1", "many", "٣", "1.5"):
        with pytest.raises(ValueError, match="DOCKBOT_HTTP_THREADS"):
            HttpLimits.from_env({"DOCKBOT_HTTP_THREADS": bad})
