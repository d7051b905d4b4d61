"""A Spark Connect server on this machine, from the jars inside the ``pyspark`` package.

``spark-local://`` starts one per process (``LocalServer.start``); ``.ci/run`` starts one for the
tests with ``python -m honestsql.db.spark_server --port 15002``. It listens on 127.0.0.1 only,
keeps its catalog in memory and needs a Java 17 (or newer) runtime.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from honestsql.errors import ConnectionFailed, MissingDriver

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: How long the server may take to open its port (a JVM and Spark's start: 10-30 s here).
START_SECONDS = 180


def spark_home() -> Path:
    """``$SPARK_HOME``, else the Spark distribution inside the ``pyspark`` package."""
    if os.environ.get("SPARK_HOME"):
        return Path(os.environ["SPARK_HOME"])
    try:
        import pyspark
    except ModuleNotFoundError:
        raise MissingDriver(
            "A local Spark needs pyspark with its jars: pip install 'honestsql[spark]'"
        ) from None
    return Path(pyspark.__file__).parent


def command(
    port: int, *, ui_port: int | None, warehouse: Path, memory: str, in_memory_catalog: bool
) -> list[str]:
    """The ``spark-submit`` command line of a Spark Connect server on 127.0.0.1:``port``."""
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.driver.memory": memory,
        "spark.ui.enabled": "true" if ui_port else "false",
        "spark.ui.port": str(ui_port or 0),
        "spark.ui.killEnabled": "false",
        # Jobs share the cores instead of queueing behind a long one (the default is FIFO).
        "spark.scheduler.mode": "FAIR",
    }
    if in_memory_catalog:
        conf["spark.sql.catalogImplementation"] = "in-memory"
    line = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    line += ["--name", "honestsql Spark Connect", "--master", "local[*]"]
    for key, value in conf.items():
        line += ["--conf", f"{key}={value}"]
    line += ["--driver-java-options", f"-Dderby.system.home={warehouse}"]
    return [*line, "spark-internal"]


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    """A Spark Connect server this process started and stops (also at exit)."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, memory: str = "2g") -> LocalServer:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise ConnectionFailed(
                "A local Spark needs a Java 17 runtime: install one (Debian: apt-get install "
                "openjdk-17-jre-headless) or set JAVA_HOME."
            )
        folder = Path(tempfile.mkdtemp(prefix="spark-local-"))
        port = free_port()
        line = command(port, ui_port=None, warehouse=folder, memory=memory, in_memory_catalog=True)
        log = (folder / "server.log").open("wb")
        process = subprocess.Popen(line, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        log.close()
        server = cls(process, port, folder)
        atexit.register(server.stop)
        deadline = time.monotonic() + START_SECONDS
        while not answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "server.log").read_text(errors="replace")[-800:]
                server.stop()
                raise ConnectionFailed(f"The local Spark Connect server did not start:\n{tail}")
            time.sleep(0.25)
        return server

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run a Spark Connect server in the foreground (for CI and for trying honestsql on Spark)."""
    parser = argparse.ArgumentParser(prog="python -m honestsql.db.spark_server")
    parser.add_argument("--port", type=int, default=15002)
    parser.add_argument("--ui-port", type=int, default=4040, help="0 turns the web UI off")
    parser.add_argument("--warehouse", type=Path, default=Path("spark-warehouse"))
    parser.add_argument("--memory", default="2g", help="the driver's heap (local mode: all of it)")
    args = parser.parse_args(argv)
    args.warehouse.mkdir(parents=True, exist_ok=True)
    line = command(
        args.port,
        ui_port=args.ui_port or None,
        warehouse=args.warehouse.resolve(),
        memory=args.memory,
        in_memory_catalog=False,
    )
    os.execv(line[0], line)  # replaces this process: signals reach the server itself
    return 0


if __name__ == "__main__":
    sys.exit(main())
