"""A local server shaped like KS SvarUT's REST forsendelse service v1, for the tests only (127.0.0.1).

It can be made to misbehave: ``slow`` (answers after a delay), ``fail_500`` / ``fail_400`` (the next
n calls answer 500 / 400), and ``crash_after_accept`` (the next n sendForsendelse calls store the
shipment and then drop the connection without answering). It records every shipment it took, and
``read(id, at)`` marks one opened (status ``LEST``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from api.bench.ports import free_port

API = "/tjenester/api/forsendelse/v1"
USER, PASSWORD = "imdi", "hemmelig"


@dataclass
class SvarUTState:
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> forsendelse, files, status
    started: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    slow: float = 0.0
    slow_calls: int = 0
    fail_500: int = 0
    fail_400: int = 0
    crash_after_accept: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent_for(self, reference: str) -> list[str]:
        return [i for i, s in self.shipments.items() if s["forsendelse"]["eksternReferanse"] == reference]

    def read(self, shipment_id: str, at: datetime) -> None:
        self.shipments[shipment_id]["status"] = {
            "status": "LEST",
            "sisteStatusEndring": int(at.timestamp() * 1000),
        }


def _handler(state: SvarUTState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            return

        def _answer(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _misbehave(self) -> bool:
            with state.lock:
                state.calls.append(f"{self.command} {self.path}")
                slow = state.slow_calls > 0
                if slow:
                    state.slow_calls -= 1
                if state.fail_500 > 0:
                    state.fail_500 -= 1
                    code = 500
                elif state.fail_400 > 0:
                    state.fail_400 -= 1
                    code = 400
                else:
                    code = 0
            if slow:
                time.sleep(state.slow)
            if code:
                self._answer(code, {"feilmelding": "Testfeil"})
                return True
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._answer(401, {"feilmelding": "Ikke autentisert"})
                return True
            return False

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self._misbehave():
                return
            path = self.path.removeprefix(API)
            if path.startswith("/eksternref/"):
                self._answer(200, state.sent_for(path.removeprefix("/eksternref/")))
            elif path.endswith("/status"):
                shipment = state.shipments.get(path.split("/")[1])
                if shipment is None:
                    self._answer(404, {"feilmelding": "Ukjent forsendelse"})
                else:
                    self._answer(200, shipment["status"])
            else:
                self._answer(404, {})

        def do_POST(self) -> None:
            body = self._body()
            if self._misbehave():
                return
            path = self.path.removeprefix(API)
            if path == "/startNyForsendelse":
                shipment_id = str(uuid.uuid4())
                state.started.append(shipment_id)
                self._answer(200, {"id": shipment_id})
                return
            shipment_id = path.split("/")[1]
            if not path.endswith("/sendForsendelse") or shipment_id not in state.started:
                self._answer(404, {"feilmelding": "Ukjent forsendelse"})
                return
            if shipment_id in state.shipments:
                self._answer(400, {"feilmelding": "Forsendelsen er allerede sendt"})
                return
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
            )
            parts = {
                part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
            }
            if set(parts) != {"forsendelse", "filer"}:
                self._answer(400, {"feilmelding": "forsendelse og filer mangler"})
                return
            forsendelse = json.loads(parts["forsendelse"].get_content())
            pdf = parts["filer"].get_payload(decode=True)
            state.shipments[shipment_id] = {
                "forsendelse": forsendelse,
                "pdf": pdf,
                "status": {"status": "MOTTATT", "sisteStatusEndring": int(time.time() * 1000)},
            }
            with state.lock:
                crash = state.crash_after_accept > 0
                if crash:
                    state.crash_after_accept -= 1
            if crash:  # took it, then died before answering
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._answer(200, {})

    return Handler


@contextmanager
def svarut_server(port: int | None = None) -> Iterator[tuple[str, SvarUTState]]:
    """A running SvarUT-shaped server on 127.0.0.1 (on ``port``, or a free one): its URL and state."""
    state = SvarUTState()
    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
