"""PostgreSQL unreachable for 10 s (a TCP proxy between the worker and the database is cut): the worker pauses,
retries and resumes with nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from beforeservice.broker import free_port
from tests.conftest import Stack
from tests.faults import harness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
OUTAGE_SECONDS = 10.0


class CuttableProxy:
    """127.0.0.1:port -> the database, in its own event-loop thread. `cut()` drops every open connection and
    refuses new ones (accept, then close) until `restore()`: what a network partition looks like to a client."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.refused = 0
        self._up = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="db-proxy")

    def __enter__(self) -> CuttableProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            self.refused += 1
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        self._writers.discard(writer)
        writer.close()

    def cut(self) -> None:
        def drop() -> None:
            self._up = False
            for writer in list(self._writers):
                writer.transport.abort()  # RST, no goodbye: the client finds out on its next read or write
            self._writers.clear()

        self._loop.call_soon_threadsafe(drop)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "_up", True)


def test_database_cut_for_ten_seconds_pauses_and_resumes(stack: Stack) -> None:
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    stream, offers_of = harness.births_to_registered_mothers(sessions, seed=3)
    real = make_url(engine_env["DATABASE_URL"])
    with CuttableProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        worker = harness.Worker({**harness.fault_env(engine_env), "DATABASE_URL": proxied}, tmp_path / "logs")
        feeding = threading.Thread(
            target=harness.produce,
            args=(broker.bootstrap_servers, stream),
            kwargs={"pace_per_second": max(200.0, len(stream) / 40)},
        )
        started = time.monotonic()
        feeding.start()
        worker.start()
        try:
            harness.wait_for(lambda: harness.processed_count(sessions) >= len(stream) // 5, timeout=600, what="20%")
            proxy.cut()
            at_cut = harness.processed_count(sessions)
            time.sleep(1.0)  # a batch already past its COMMIT may still land
            settled = harness.processed_count(sessions)
            time.sleep(OUTAGE_SECONDS - 1.0)
            before_restore = harness.processed_count(sessions)
            proxy.restore()
            harness.wait_for(
                lambda: harness.processed_count(sessions) > before_restore, timeout=120, what="the worker resuming"
            )
            resumed_after = time.monotonic() - started
            feeding.join()
            harness.wait_until_done(sessions, len(stream))
        finally:
            feeding.join()
            worker.stop()
            log = (tmp_path / "logs" / "worker-1" / "worker.log").read_text(errors="replace")
            print(f"--- worker log ---\n{worker.tail()}")
    elapsed = time.monotonic() - started

    result = harness.ledger(sessions, stream, offers_of, server)
    retries = log.count("failed; retrying")
    result.figures.update(
        {
            "processed_at_cut": at_cut,
            "processed_during_outage": before_restore - settled,
            "connections_refused": proxy.refused,
            "batch_retries_logged": retries,
            "resumed_at_second": round(resumed_after, 1),
            "seconds": round(elapsed, 1),
        }
    )
    result.print(f"PostgreSQL cut for {OUTAGE_SECONDS:.0f} s over {len(stream):,} events")
    assert before_restore == settled, "nothing may be committed while the database is unreachable"
    assert retries > 0, "the worker must have retried the batch that failed"
    assert before_restore < len(stream), "the outage must happen mid-stream"
    result.assert_zeros()
