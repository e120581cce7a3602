"""The daemon's main loop sleeps until the earliest deadline a part names, and wake_by() moves it earlier:
an RFID read cycle ends on time without the loop polling ten times a second."""

from __future__ import annotations

import asyncio
import time

from gateway.assembly import Parts
from gateway.config import parse
from gateway.daemon import Daemon


def test_a_deadline_wakes_the_loop_long_before_its_idle_tick(tmp_path):
    config = parse({"gateway": {"id": "gw", "data_dir": str(tmp_path)}, "mqtt": {"host": "127.0.0.1"}})
    daemon = Daemon(config)  # built, not started: only its main loop runs here
    ticks: list[float] = []
    deadline: list[float] = []

    async def scenario() -> None:
        daemon.stopping = asyncio.Event()
        daemon.parts = Parts(ticks=[ticks.append], due=[lambda: deadline[0] if deadline else None],
                             tick_interval=60.0)
        loop_task = asyncio.ensure_future(daemon._main_loop())
        try:
            await asyncio.sleep(0.2)  # asleep for its 60 s idle tick now
            due = time.time() + 0.3
            deadline.append(due)
            daemon.wake_by(due)  # as a tag read that opens a cycle does
            end = time.monotonic() + 10
            while not any(t >= due for t in ticks) and time.monotonic() < end:
                await asyncio.sleep(0.05)
        finally:
            daemon.stopping.set()
            await asyncio.wait_for(loop_task, 10)

    asyncio.run(scenario())
    assert any(t >= deadline[0] for t in ticks), [t - deadline[0] for t in ticks]


def test_rfid_cycles_ask_for_their_end():
    from gateway.rfid.service import RfidService

    config = parse({"gateway": {"id": "gw"}, "mqtt": {"host": "127.0.0.1"},
                    "device": [{"name": "portal", "driver": "llrp", "host": "127.0.0.1", "cycle_ms": 2000}]})
    asked: list[float] = []
    service = RfidService(config, wake_by=asked.append)
    assert service.next_due() is None  # no open cycle: nothing to wake for

    class Pipeline:
        def emit(self, *a, **k):
            raise AssertionError("nothing ends yet")

    from drivers.base import Read

    read = Read("portal", "llrp", "epc", "3034257BF7194E40000F4240", meta={"antenna": 1})
    service.on_tag(Pipeline(), read)
    assert asked and abs(asked[-1] - (read.wall + 2.0)) < 0.01 and service.next_due() == asked[-1]
