"""Server-sent events for work that takes seconds: each stage as it starts, then the result."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import anyio.from_thread

from honestsql.errors import HonestSQLError, body_of, error_body

#: ``work(on_stage)``: the blocking work, told how to report a stage.
Work = Callable[[Callable[[str, str], None]], Any]


def event(kind: str, data: Any) -> str:
    """One server-sent event."""
    return f"event: {kind}\ndata: {json.dumps(data, default=str, ensure_ascii=False)}\n\n"


async def stream_events(work: Work, offload: Callable[..., Awaitable[Any]]) -> AsyncIterator[str]:
    """Run ``work`` in a worker thread (through ``offload``) and yield ``stage`` events while it
    runs, then ``result`` as an ``answer`` event, or an ``error`` event with the envelope."""
    send, receive = anyio.create_memory_object_stream[tuple[str, Any]](max_buffer_size=64)

    def on_stage(stage: str, message: str) -> None:
        anyio.from_thread.run(send.send, ("stage", {"stage": stage, "message": message}))

    async def run() -> None:
        async with send:
            try:
                result = await offload(work, on_stage)
            except HonestSQLError as exc:
                await send.send(("error", body_of(exc)))
            except Exception as exc:  # noqa: BLE001 - reported to the client as the envelope
                await send.send(
                    (
                        "error",
                        error_body(
                            "internal", f"Internal error ({type(exc).__name__}); see the log.", 500
                        ),
                    )
                )
            else:
                await send.send(("answer", result))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run)
        async with receive:
            async for kind, data in receive:
                yield event(kind, data)
