"""A local fake of the data-sharing registers with the real HTTP contract (engine/connectors/
registry.py), on http.server in a thread:

    POST /registers/<register>/lookup   {"id_no": ...} or {"credit_code": ...}
    200 {"found": true, "record": {...}}   when `records[(register, key)]` holds the record
    200 {"found": false}                   otherwise
    500 {"error": ...}                     while `fail_with_500` is set
    no answer for `delay_s` seconds        while `delay_s` is set (the client's timeout)

`requests` lists (register, query, authorization header) as they came in."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeRegistry:
    def __init__(self):
        self.records: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, dict, str | None]] = []
        self.fail_with_500 = False
        self.delay_s = 0.0
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's hook name)
                parts = self.path.strip("/").split("/")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if len(parts) != 3 or parts[0] != "registers" or parts[2] != "lookup":
                    return self._answer(404, {"error": "no such path"})
                register = parts[1]
                registry.requests.append((register, body, self.headers.get("Authorization")))
                if registry.delay_s:
                    time.sleep(registry.delay_s)
                if registry.fail_with_500:
                    return self._answer(500, {"error": "register down"})
                key = body.get("id_no") or body.get("credit_code") or ""
                record = registry.records.get((register, key))
                self._answer(200, {"found": True, "record": record} if record is not None else {"found": False})

            def _answer(self, status, payload):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
