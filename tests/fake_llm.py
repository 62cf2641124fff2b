"""A fake model server on loopback: OpenAI's /v1/chat/completions and Anthropic's /v1/messages.

Replies are scripted: each request takes the next entry of the script (the last one repeats).
An entry is a reply text, or a dict with any of ``text``, ``status`` (429, 500...), ``delay``
(seconds before answering), ``raw`` (bytes sent as the body: malformed JSON). Every request is
recorded, so tests can assert what the client sent and how often.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeModelServer:
    def __init__(
        self,
        script: list[Any],
        on_request: Callable[[int, dict[str, Any]], None] | None = None,
        models: list[str] | None = None,
    ) -> None:
        self.script = list(script)
        self.models = models  # GET /v1/models lists these; None: 404, as many endpoints answer
        self.requests: list[dict[str, Any]] = []
        self.on_request = on_request
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if not self.path.split("?")[0].endswith("/models") or server.models is None:
                    self.send_error(404)
                    return
                if "anthropic-version" in {k.lower() for k in self.headers}:
                    listing: dict[str, Any] = {
                        "data": [{"id": m, "type": "model", "display_name": m,
                                  "created_at": "2025-01-01T00:00:00Z"} for m in server.models],
                        "has_more": False, "first_id": None, "last_id": None,
                    }  # fmt: skip
                else:
                    listing = {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                                 for m in server.models],
                    }  # fmt: skip
                payload = json.dumps(listing).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                body = json.loads(
                    self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}"
                )
                with server._lock:
                    index = len(server.requests)
                    server.requests.append(
                        {
                            "path": self.path,
                            "body": body,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                        }
                    )
                    entry = server.script[min(index, len(server.script) - 1)]
                if server.on_request is not None:
                    server.on_request(index, body)
                if isinstance(entry, str):
                    entry = {"text": entry}
                time.sleep(entry.get("delay", 0))
                status = entry.get("status", 200)
                if "raw" in entry:
                    payload = entry["raw"]
                elif status != 200:
                    payload = json.dumps(
                        {"error": {"message": f"scripted {status}", "type": "error"}}
                    ).encode()
                elif self.path.endswith("/messages"):
                    payload = json.dumps({
                        "id": "msg_1", "type": "message", "role": "assistant", "model": body.get("model"),
                        "content": [{"type": "text", "text": entry["text"]}], "stop_reason": "end_turn",
                        "stop_sequence": None, "usage": {"input_tokens": 100, "output_tokens": 50},
                    }).encode()  # fmt: skip
                else:
                    payload = json.dumps({
                        "id": "c1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": entry["text"]}}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
                    }).encode()  # fmt: skip
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("retry-after-ms", "10")  # both SDKs honour it: retries stay fast
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeModelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
