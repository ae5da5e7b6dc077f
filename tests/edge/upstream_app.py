"""A tiny HTTP/1.1 upstream for the edge tests: echoes what nginx forwarded, /slow sleeps,
/app-headers answers with the security headers the API sets itself, and GET /seen?path=P says
how many requests for P reached it (what the edge let through).

Run: python upstream_app.py PORT. The real API replaces it later; nginx does not care.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SEEN: Counter[str] = Counter()
SEEN_LOCK = threading.Lock()

# What the API's middleware sets on every answer (contract 14.7): the edge must not double them.
APP_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=1",
    "Cache-Control": "no-store",
}


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # lets nginx keep upstream connections alive

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/seen":
            with SEEN_LOCK:
                count = SEEN[parse_qs(url.query)["path"][0]]
            self._reply({"seen": count})
            return
        self._count(url.path)
        if url.path == "/slow":
            time.sleep(float(parse_qs(url.query).get("s", ["3"])[0]))
        extra = dict(APP_HEADERS) if url.path == "/app-headers" else {}
        if url.path == "/app-headers":
            extra["X-Request-ID"] = self.headers.get("X-Request-ID", "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._reply({"path": url.path, "headers": headers}, extra)

    def do_POST(self) -> None:
        self._count(urlsplit(self.path).path)
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self._reply({"received": length})

    def _count(self, path: str) -> None:
        with SEEN_LOCK:
            SEEN[path] += 1

    def _reply(self, payload: dict[str, object], extra: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), EchoHandler)
    server.daemon_threads = True
    server.serve_forever()
