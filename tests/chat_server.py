"""A real HTTP server on 127.0.0.1 that speaks the chat-completions protocol with scripted
replies, and records every request it got, so tests can assert on what was asked."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], list[str]]


class ChatServer:
    def __init__(self, reply: Reply, *, honor_n: bool = True, fail_first: int = 0) -> None:
        self.reply = reply
        self.honor_n = honor_n
        self.fail_first = fail_first  # answer 503 this many times first (to test retries)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    failing = server.fail_first > 0
                    if failing:
                        server.fail_first -= 1
                if failing:
                    self._send(503, {"error": {"message": "warming up", "type": "server_error"}})
                    return
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                texts = server.reply(body)
                n = int(body.get("n") or 1) if server.honor_n else 1
                texts = texts[:n]
                if body.get("stream"):
                    self._stream(texts[0], body.get("model", "scripted"))
                    return
                prompt = sum(len(m.get("content") or "") for m in body.get("messages", [])) // 4
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "scripted"),
                        "choices": [
                            {
                                "index": i,
                                "message": {"role": "assistant", "content": t},
                                "finish_reason": "stop",
                            }
                            for i, t in enumerate(texts)
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": sum(len(t) // 4 + 1 for t in texts),
                            "total_tokens": 0,
                        },
                    },
                )

            def _stream(self, text: str, model: str) -> None:
                """The reply as server-sent events, one word a chunk, as streaming servers do."""
                words = [w + " " for w in text.split(" ")]
                words[-1] = words[-1][:-1]
                events = [
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [
                            {"index": 0, "delta": {"role": "assistant", "content": w},
                             "finish_reason": None}
                        ],
                    }
                    for w in words
                ]  # fmt: skip
                data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                payload = data.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def user_prompt(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


def is_repair(request: dict[str, Any]) -> bool:
    return any(m.get("role") == "assistant" for m in request["messages"])
