"""A tiny HTTP/1.1 upstream for the edge tests: echoes what nginx forwarded, /slow sleeps.

Run: python upstream_app.py PORT. The real API replaces it later; nginx does not care.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # lets nginx keep upstream connections alive

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/slow":
            time.sleep(float(parse_qs(url.query).get("s", ["3"])[0]))
        self._reply({"path": url.path, "headers": {k.lower(): v for k, v in self.headers.items()}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self._reply({"received": length})

    def _reply(self, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), EchoHandler)
    server.daemon_threads = True
    server.serve_forever()
