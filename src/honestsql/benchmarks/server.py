"""``honestsql bench server``: a bounded load on loopback against a real ``honestsql serve``.

``concurrency`` clients post ``/api/check`` with a typical query for ``seconds`` seconds while a
probe asks ``/api/health`` five times a second. The server runs in its own process, as it would
in use; all traffic stays on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from honestsql.benchmarks import free_port, percentile
from honestsql.benchmarks.check import DEMO_QUERIES


def _probe(base: str, seconds: float, results: Any) -> None:
    """Health latency, measured from its own process so the load generator cannot delay it."""
    latencies, failures = [], 0
    stop = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                ok = client.get("/api/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            failures += 0 if ok else 1
            time.sleep(0.2)
    results.put((latencies, failures))


async def _load(base: str, concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    samples: list[str] = []
    stop = time.monotonic() + seconds
    # Idle connections expire before the server's 5 s keep-alive, so none is reused as it closes.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2
    )
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def worker(index: int) -> None:
            nonlocal errors
            sql = DEMO_QUERIES[index % len(DEMO_QUERIES)]
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    response = await client.post("/api/check", json={"sql": sql})
                    ok = response.status_code == 200 and response.json().get("ok") is True
                    problem = "" if ok else response.text[:200]
                except httpx.HTTPError as exc:
                    ok, problem = False, repr(exc)[:200]
                latencies.append((time.perf_counter() - started) * 1000)
                if not ok:
                    errors += 1
                    if len(samples) < 3:
                        samples.append(problem)

        began = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.monotonic() - began
    return {
        "requests": len(latencies),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": errors,
        "error_samples": samples,
    }


def run(*, db: str, concurrency: int, seconds: float) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honestsql",
                "serve",
                "--db",
                db,
                "--port",
                str(port),
                "--no-audit",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while not _healthy(base):
                if time.monotonic() > deadline or server.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(
                        "the server did not start: " + log.read().decode(errors="replace")
                    )
                time.sleep(0.1)
            httpx.post(f"{base}/api/check", json={"sql": DEMO_QUERIES[0]}, timeout=30)  # warm up
            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            prober = context.Process(target=_probe, args=(base, seconds, results))
            prober.start()
            figures = asyncio.run(_load(base, concurrency, seconds))
            health, health_failures = results.get(timeout=60)
            prober.join(timeout=10)
            figures.update(
                health_probes=len(health),
                health_errors=health_failures,
                health_p50_ms=round(percentile(health, 50), 1),
                health_p99_ms=round(percentile(health, 99), 1),
                health_max_ms=round(max(health), 1) if health else None,
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
        log.seek(0)
        logged = log.read().decode(errors="replace").strip()
    if logged:
        figures["server_log"] = logged[-2000:]
    return {"db": db, "concurrency": concurrency, "seconds": seconds, **figures}


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
