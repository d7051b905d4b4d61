"""One OpenAI-compatible server for every system of ``bench peers``: llama-cpp-python's own
server module over a GGUF file, started and stopped by the bench, behind a small counting proxy.

The server serves the weights under two names: ``ALIAS`` with the model's own chat template, for
every system, and ``ALIAS-tools`` with llama-cpp-python's tool-calling handler, for Vanna 2,
which works only through tool calls (the server loads one at a time and swaps on demand).

The proxy forwards every request unchanged except one thing, the same for every system: a
request that sets no ``max_tokens`` gets ``MAX_TOKENS`` (a small model that loops would
otherwise write until the context is full). It adds up the ``usage`` the server reports, so the
bench can say how many prompt and completion tokens each system spent on each question.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from honestsql.benchmarks import free_port
from honestsql.llm import BackendError

MAX_TOKENS = 1024
#: llama-cpp-python's handler that turns a model's reply into OpenAI tool calls (the model's own
#: chat template passes tools in but never returns tool calls); Qwen's chat format is ChatML.
TOOLS_FORMAT = "chatml-function-calling"


def tools_alias(alias: str) -> str:
    """The served name of the same weights behind the tool-calling chat handler."""
    return f"{alias}-tools"


class Usage:
    """Token counts added up over every request through the proxy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.prompt = 0
        self.completion = 0
        self.requests = 0

    def request(self) -> None:
        with self._lock:
            self.requests += 1

    def add(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        with self._lock:
            self.prompt += int(usage.get("prompt_tokens") or 0)
            self.completion += int(usage.get("completion_tokens") or 0)

    def snapshot(self) -> tuple[int, int, int]:
        with self._lock:
            return self.prompt, self.completion, self.requests


def _handler(upstream: tuple[str, int], usage: Usage) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _forward(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if body and self.path.endswith("/completions"):
                try:
                    payload = json.loads(body)
                    if payload.get("max_tokens") is None and not payload.get(
                        "max_completion_tokens"
                    ):
                        payload["max_tokens"] = MAX_TOKENS
                    body = json.dumps(payload).encode()
                except ValueError:
                    pass
                usage.request()
            conn = http.client.HTTPConnection(*upstream, timeout=900)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            conn.request(method, self.path, body=body or None, headers=headers)
            reply = conn.getresponse()
            data = reply.read()
            conn.close()
            self._count(data)
            self.send_response(reply.status)
            for key, value in reply.getheaders():
                if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _count(self, data: bytes) -> None:
            text = data.decode("utf-8", "replace")
            streamed = text.lstrip().startswith("data:")
            chunks = [text]
            if streamed:  # a stream: the usage rides on some chunk, if the server sends one
                chunks = [line[5:] for line in text.splitlines() if line.startswith("data:")]
            payloads = []
            for chunk in chunks:
                try:
                    payload = json.loads(chunk)
                except ValueError:
                    continue
                if isinstance(payload, dict):
                    payloads.append(payload)
            reported = [p["usage"] for p in payloads if isinstance(p.get("usage"), dict)]
            for each in reported:
                usage.add(each)
            if streamed and not reported:
                # llama-cpp-python's server reports no usage on a stream; it streams one token a
                # chunk, so the chunks with text are the completion tokens (the prompt's are
                # not known)
                usage.add({"completion_tokens": sum(1 for p in payloads if _delta_text(p))})

        def do_POST(self) -> None:  # noqa: N802
            self._forward("POST")

        def do_GET(self) -> None:  # noqa: N802
            self._forward("GET")

    return Forward


class Proxy:
    """The counting proxy alone, in front of any OpenAI-compatible server at ``upstream``
    (host, port); ``base_url`` is its own. A context manager."""

    def __init__(self, upstream: tuple[str, int], usage: Usage | None = None) -> None:
        self.usage = usage or Usage()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, self.usage))
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> Proxy:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _delta_text(payload: dict[str, Any]) -> str:
    choices = payload.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


#: ``python -m llama_cpp.server``, its models loaded as honestsql's own engine loads them
#: (``models.load_params``: no AMX buffers on a CPU where they crash).
SERVE = (
    "import runpy, llama_cpp.llama_cpp as lib\n"
    "from honestsql.llm.models import load_params\n"
    "lib.llama_model_default_params = load_params\n"
    "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
)


class LlamaServer:
    """``python -m llama_cpp.server`` on a free port, and the proxy in front of it;
    ``base_url`` is the proxy's. A context manager: leaving it stops both."""

    def __init__(
        self, model_path: Path, *, n_ctx: int = 8192, alias: str = "local", log: Path | None = None
    ) -> None:
        self.model_path = model_path
        self.alias = alias
        self.n_ctx = n_ctx
        self.log = log
        self.usage = Usage()
        self._process: subprocess.Popen[bytes] | None = None
        self._proxy: Proxy | None = None
        self._config: Path | None = None
        self.base_url = ""

    def __enter__(self) -> LlamaServer:
        try:
            import llama_cpp.server  # noqa: F401
        except ModuleNotFoundError as exc:
            raise BackendError(
                f"bench peers needs llama-cpp-python's server ({exc.name} is missing): "
                'pip install "honestsql[peers]"'
            ) from None
        port = free_port()
        model = {
            "model": str(self.model_path),
            "n_ctx": self.n_ctx,
            "n_threads": os.cpu_count() or 2,
            "verbose": False,
        }
        config = {
            "host": "127.0.0.1",
            "port": port,
            "models": [
                {**model, "model_alias": self.alias},
                {**model, "model_alias": tools_alias(self.alias), "chat_format": TOOLS_FORMAT},
            ],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(config, file)
        self._config = Path(file.name)
        command = [sys.executable, "-c", SERVE, "--config_file", str(self._config)]
        if self.log is None:
            self._process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
        else:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("ab") as out:  # the server writes to its own copy of the handle
                self._process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self._wait(port)
        self._proxy = Proxy(("127.0.0.1", port), self.usage).__enter__()
        self.base_url = self._proxy.base_url
        return self

    def _wait(self, port: int, seconds: float = 300.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise BackendError(
                    f"The llama-cpp-python server stopped while starting (exit code "
                    f"{self._process.returncode}); see {self.log or 'its output'}."
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise BackendError(f"The llama-cpp-python server did not answer within {seconds:.0f} s.")

    def check(self) -> None:
        """Raise if the server has stopped (a question asked of a dead server is not a peer's
        failure, and must not be recorded as one)."""
        if self._process is None or self._process.poll() is not None:
            code = None if self._process is None else self._process.returncode
            raise BackendError(
                f"The llama-cpp-python server stopped (exit code {code}; -9 is usually the "
                f"kernel's out-of-memory killer); see {self.log or 'its output'}. The run "
                "resumes from the last question recorded."
            )

    def __exit__(self, *_: object) -> None:
        if self._proxy is not None:
            self._proxy.__exit__()
            self._proxy = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._config is not None:
            self._config.unlink(missing_ok=True)
            self._config = None
