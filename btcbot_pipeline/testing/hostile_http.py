"""An HTTP server on 127.0.0.1 that answers badly on purpose, for the deadline and body-cap tests.

``mode`` (same answer to GET and POST, which it counts in ``requests``):

- ``drip``: 200 with a 1000-byte JSON body declared by ``Content-Length``, one byte every ``pause_s``;
- ``drip_headers``: the status line and headers themselves one byte every ``pause_s``;
- ``stall``: 200, headers, 10 bytes of a 1000-byte body, then nothing until stopped;
- ``oversize``: 200 with ``size_bytes`` (100 MiB) chunked, no ``Content-Length``, generated
  as it is sent from one shared 64 KiB chunk (the server never holds the body);
- ``huge_length``: 200 declaring ``Content-Length: 1000000000000``, then nothing until stopped.

A reply ends when the client goes away or the server is stopped (``close()``).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"success":true,"message":null,"code":0,"data":"' + b"x" * 950 + b'"}'
HUGE_LENGTH = 10**12
_CHUNK = b"0," * 32 * 1024


@dataclass
class HostileServer:
    mode: str
    pause_s: float = 0.2
    size_bytes: int = 100 * 1024 * 1024
    requests: list[float] = field(default_factory=list)  # monotonic time each request arrived

    def __post_init__(self) -> None:
        outer = self
        self.stopped = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                outer.requests.append(time.monotonic())
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                try:
                    getattr(outer, "_" + outer.mode)(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up
                self.close_connection = True

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def _head(self, h: BaseHTTPRequestHandler, **headers: str) -> None:
        h.send_response(200)
        for name, value in headers.items():
            h.send_header(name.replace("_", "-"), value)
        h.end_headers()
        h.wfile.flush()

    def _drip(self, h: BaseHTTPRequestHandler) -> None:
        self._head(h, Content_Type="application/json", Content_Length=str(len(BODY)))
        for i in range(len(BODY)):
            if self.stopped.wait(self.pause_s):
                return
            h.wfile.write(BODY[i : i + 1])

    def _drip_headers(self, h: BaseHTTPRequestHandler) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"p" * 200 + b"\r\n"
        for i in range(len(head)):
            if self.stopped.wait(self.pause_s):
                return
            h.wfile.write(head[i : i + 1])

    def _stall(self, h: BaseHTTPRequestHandler) -> None:
        self._head(h, Content_Type="application/json", Content_Length=str(len(BODY)))
        h.wfile.write(BODY[:10])
        self.stopped.wait()

    def _oversize(self, h: BaseHTTPRequestHandler) -> None:
        self._head(h, Content_Type="application/json", Transfer_Encoding="chunked")
        for _ in range(self.size_bytes // len(_CHUNK)):
            if self.stopped.is_set():
                return
            h.wfile.write(b"%x\r\n" % len(_CHUNK))
            h.wfile.write(_CHUNK)
            h.wfile.write(b"\r\n")
        h.wfile.write(b"0\r\n\r\n")

    def _huge_length(self, h: BaseHTTPRequestHandler) -> None:
        self._head(h, Content_Type="application/json", Content_Length=str(HUGE_LENGTH))
        self.stopped.wait()
