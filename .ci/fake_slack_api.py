"""A stand-in Slack Web API for the image check in .ci/image.sh (Slack itself is unreachable from CI).

`dockbot serve` calls auth.test before it starts listening; this answers it (and any other method) with
`ok: true`, and logs each method called. Stdlib only: it runs in the dockbot image, started with
`python /fake_slack_api.py PORT`.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTH_TEST = {
    "ok": True,
    "url": "https://dockbot-ci.slack.com/",
    "team": "dockbot CI",
    "user": "dockbot",
    "team_id": "T0DOCKBOT",
    "user_id": "U0DOCKBOT",
    "bot_id": "B0DOCKBOT",
    "is_enterprise_install": False,
}


class FakeSlackApi(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        method = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        print(f"fake-slack: {self.command} {method}", flush=True)
        body = json.dumps(AUTH_TEST if method == "auth.test" else {"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # quiet: the handler prints its own line
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("0.0.0.0", port), FakeSlackApi).serve_forever()
