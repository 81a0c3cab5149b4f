"""HTTP between the interop nodes (tests/interop/README.md, "HTTP"): the server's HTTP service
(http.server on an NTM socket) and the client's one request (urllib through ntmobile.http)."""

from __future__ import annotations

import http.server
import threading

import ntmobile.http
from interop_protocol import LANG, record


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"HTTP {LANG} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def start_http_server(port: int) -> ntmobile.http.ThreadingHTTPServer:
    server = ntmobile.http.ThreadingHTTPServer(("", port), _Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


def http_request(peer: str, port: int) -> bool:
    """GET http://peer:port/from-<lang>; prints HTTP (or FAIL step=http); True when it worked."""
    path = f"/from-{LANG}"
    try:
        with ntmobile.http.urlopen(f"http://{peer}:{port}{path}", timeout=20) as response:
            words = response.read().decode().split(" ")
            status = response.status
    except Exception as error:  # noqa: BLE001 - reported as a record
        record("FAIL", step="http", reason=type(error).__name__)
        return False
    ok = status == 200 and len(words) == 3 and words[0] == "HTTP" and words[2] == path
    record("HTTP", status=status, peer_lang=words[1] if len(words) == 3 else "?",
           path="ok" if ok else "bad")
    return ok
