"""The daemon: one asyncio loop owning the pipeline and publisher; devices and the outbox writer in threads.

Start order follows the promise: the outbox is open before any device is, so the
first read has somewhere durable to go. Stop order is the reverse: devices stop
(their last half-framed reads, an LLRP reader's final report, flushed into the
pipeline), the outbox commits everything queued, the publisher gets a moment to
finish in-flight messages and says `offline`, and the process exits 0.

SIGHUP reloads the config in place. The working state (modes, packing sessions,
double-scan windows, cargo, RFID history, counters) is one object the daemon owns
and hands to each new pipeline; reads that arrive while the new pipeline is being
built wait and go to it, in order.

The daemon's parts are built in one visible place, gateway/assembly.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import drivers
from drivers.base import Read

from . import __version__, assembly, daemon_signals, status_file, systemd
from .config import Config, ConfigError, load
from .device_runner import DeviceRunner
from .outbox import Outbox, Result
from .outcomes import OutcomeBus
from .pipeline import SESSIONS_KEY, Pipeline
from .publisher import Publisher
from .recent import RecentReads
from .supervisor import Supervisor
from .working_state import WorkingState

log = logging.getLogger("tally")

#: how often the main loop asks the supervisor (its thresholds are 10 s and more), however fast it ticks
SUPERVISE_S = 1.0


def driver_stats(driver: Any) -> dict[str, Any]:
    """A driver's own counters (`stats`, e.g. a camera's dropped frames), read from the main thread."""
    try:
        stats = getattr(driver, "stats", None)
        return {"driver_stats": dict(stats)} if stats else {}
    except Exception:  # noqa: BLE001 - a driver's counters are extra: the device row is shown without them
        return {}


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        self.started = time.time()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outbox: Outbox | None = None
        self.publisher: Publisher | None = None
        self.pipeline: Pipeline | None = None
        self.parts = assembly.Parts()
        self.runners: list[DeviceRunner] = []
        self.stopping: asyncio.Event | None = None
        #: when the main loop next wakes (wall clock) and the future that wakes it early (wake_by)
        self._wake_at = 0.0
        self._woken: asyncio.Future[None] | None = None
        # Kept across reloads (one owner: this daemon, on its loop).
        self.state = WorkingState()
        self.outcomes = OutcomeBus()
        self.recent = RecentReads()
        self.outcomes.subscribe(self.recent)
        self.supervisor = Supervisor(self)
        self.ready = False
        self.status_path: Path | None = None
        self._reload_lock = asyncio.Lock()
        self._waiting_reads: list[Read] | None = None  # while a reload builds the new pipeline
        self._status_failures = 0
        self._status_file: status_file.StatusFile | None = None

    # ---- life cycle ---------------------------------------------------------------------

    async def run(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(cfg.data_dir / "outbox.sqlite3", max_bytes=int(cfg.outbox["max_mb"] * 1024 * 1024),
                             durability=cfg.outbox["durability"], batch_ms=cfg.outbox["batch_ms"],
                             min_free_bytes=int(cfg.outbox["min_free_mb"] * 1024 * 1024),
                             hold_max=cfg.outbox["hold_max"],
                             on_commit=self._committed, on_results=self._results_from_writer).start()
        self.state.restore_sessions(self.outbox.load_state(SESSIONS_KEY))
        backlog = self.outbox.stats()
        log.info("tally %s: gateway %s, outbox %s (%d events, %d positions, %d rejects waiting)", __version__,
                 cfg.gateway_id, self.outbox.path, backlog["events"], backlog["positions"], backlog["rejects"])
        self.status_path = status_file.choose(cfg)
        self.publisher = Publisher(cfg, self.outbox, self.loop, self._status_for_broker, self._on_command)
        self.publisher.start()
        self._build()
        self._start_devices()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.stopping.set)
        self.loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        if daemon_signals.early_stop:
            self.stopping.set()
        self.ready = True
        systemd.notify("READY=1\nSTATUS=running")
        self._write_status()
        try:
            await self._main_loop()
        finally:
            await self._shutdown()
        return 0

    def _build(self) -> None:
        """This config's pipeline and parts (assembly.py), installed; then the status server and commands."""
        self.pipeline, self.parts = assembly.build(self)
        assembly.operations(self, self.parts)

    def _gate(self) -> bool:
        """May devices read? Not while the outbox holds records in memory for want of room."""
        outbox = self.outbox
        return outbox is None or not outbox.pressure

    def _start_devices(self, keep: dict[str, DeviceRunner] | None = None) -> None:
        """Start a runner per enabled device; `keep` holds runners still valid after a reload."""
        keep = keep or {}
        for device in self.config.devices:
            if not device.enabled:
                log.info("%s: disabled in config", device.name)
                continue
            if device.name in keep:
                self.runners.append(keep.pop(device.name))
                continue
            cls = drivers.load(device.driver)
            runner = DeviceRunner(cls(device.name, device.settings), lambda reads: None, self._gate)
            runner.sink = partial(self._reads_from_thread, runner)
            runner.start()
            self.runners.append(runner)

    def _stop_devices(self, runners: list[DeviceRunner] | None = None) -> None:
        runners = self.runners if runners is None else runners
        for runner in runners:
            runner.stopping = True
            runner._stop.set()  # all at once: each stop() then waits for only one read timeout
        for runner in runners:
            runner.stop()
        if runners is self.runners:
            self.runners = []

    def _reads_from_thread(self, runner: DeviceRunner, reads: list[Read]) -> None:
        assert self.loop is not None
        try:
            self.loop.call_soon_threadsafe(self._on_reads, runner, reads)
        except RuntimeError:
            # The loop closed under a device that was still stopping: the process is exiting and the
            # outbox is closed, so there is nowhere to put them. Counted in the device's reads only.
            log.error("%s: %d reads arrived after the loop closed", runner.state.name, len(reads))

    def _on_reads(self, runner: DeviceRunner, reads: list[Read]) -> None:
        runner.taken += len(reads)
        if self._waiting_reads is not None:
            self._waiting_reads.extend(reads)  # a reload is building the pipeline these belong to
        elif self.pipeline is not None:
            self.pipeline.on_reads(reads)

    def _results_from_writer(self, results: list[Result]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._on_results, results)
            except RuntimeError:
                pass  # the loop closed during shutdown: the records are committed, only the signal is late

    def _on_results(self, results: list[Result]) -> None:
        if self.pipeline is not None:
            self.pipeline.on_results(results)

    def _committed(self, last_id: int) -> None:
        loop, publisher = self.loop, self.publisher
        if loop is not None and publisher is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(publisher.wake)
            except RuntimeError:
                pass  # the loop closed during shutdown; the rows stay in the outbox

    def wake_by(self, when: float) -> None:
        """Run the parts' ticks by `when` (wall clock) at the latest (on the loop)."""
        if when < self._wake_at and self._woken is not None and not self._woken.done():
            self._woken.set_result(None)

    async def _main_loop(self) -> None:
        assert self.stopping is not None
        watchdog = systemd.watchdog_interval()
        last_watchdog = last_status = last_check = 0.0
        last_broker_status = time.monotonic()  # the publisher already says "online" on connect
        status_interval = float(self.config.mqtt["status_interval"])
        # One waiter for the whole loop: wait_for() would start a task per tick and, on each timeout,
        # cancel it and wait for that: several loop turns per tick, 10 ticks a second with RFID cycles.
        stopped = asyncio.ensure_future(self.stopping.wait())
        health = self.supervisor.health
        while not self.stopping.is_set():
            # systemd's watchdog wants a ping every half WatchdogSec: never tick slower than that; a part
            # with a deadline (an RFID read cycle's end) is woken for it, not polled for it
            timeout = min(self.parts.tick_interval, watchdog or math.inf)
            wall = time.time()
            due = min((d for d in (f() for f in self.parts.due) if d is not None), default=math.inf)
            timeout = max(0.0, min(timeout, due - wall))
            self._wake_at = wall + timeout
            if self._woken is None or self._woken.done():
                self._woken = asyncio.get_running_loop().create_future()
            await asyncio.wait((stopped, self._woken), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            now = time.monotonic()
            for tick in list(self.parts.ticks):
                try:
                    tick(time.time())
                except Exception:  # noqa: BLE001 - one part's tick must not stop the others; logged
                    log.exception("periodic task failed")
            if now - last_check >= SUPERVISE_S:
                health = self.supervisor.check(now)
                last_check = now
            if watchdog and now - last_watchdog >= watchdog and health.ok:
                # Fed only while the gateway can do its job: a dead writer, a stuck MQTT thread or
                # commits that keep failing let systemd restart it.
                systemd.notify("WATCHDOG=1")
                last_watchdog = now
            if now - last_status >= 1.0:
                self._write_status()
                last_status = now
            if self.publisher and now - last_broker_status >= status_interval:
                self.publisher.publish_status()
                last_broker_status = now

    async def _shutdown(self) -> None:
        systemd.notify("STOPPING=1")
        log.info("stopping: devices first, then the outbox, then the broker link")
        await asyncio.to_thread(self._stop_devices)
        await asyncio.sleep(0)  # let reads the device threads handed over reach the pipeline
        await self._run_cleanups()
        assert self.outbox is not None
        if not await asyncio.to_thread(self.outbox.flush):
            log.error("stopping with records the outbox could not commit: %s", self.outbox.stats())
        if self.publisher is not None:
            await self.publisher.stop()
        self._write_status(state="stopped")
        stats = self.outbox.stats()
        self.outbox.close()
        await asyncio.sleep(0)  # results of the last commits reach the pipeline (feedback)
        log.info("stopped cleanly: %d events, %d positions, %d rejects wait in the outbox for the broker",
                 stats["events"], stats["positions"], stats["rejects"])

    async def _run_cleanups(self) -> None:
        """What this build's parts do before it goes (flush cycles, stop servers)."""
        cleanups, self.parts.cleanups = self.parts.cleanups, []
        for cleanup in cleanups:
            try:
                result = cleanup()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - the next cleanup must still run; logged
                log.exception("cleanup failed")

    async def reload(self) -> None:
        """SIGHUP: re-read the config; keep running the old one if the new one is broken.

        Devices whose settings did not change keep running through a reload: closing and
        reopening a serial port would discard what the scanner sent in between.
        """
        async with self._reload_lock:
            await self._reload()

    async def _reload(self) -> None:
        path = self.config.path
        if path is None:
            return
        try:
            new = await asyncio.to_thread(load, path)
        except ConfigError as exc:
            log.error("reload refused, keeping the running config: %s", "; ".join(exc.problems))
            return
        if new.data_dir != self.config.data_dir:
            log.error("reload refused: gateway.data_dir changed (needs a restart)")
            return
        log.info("reloading %s", path)
        old = {d.name: d for d in self.config.devices}

        def same(device: Any) -> bool:
            was = old.get(device.name)
            return was is not None and (was.enabled, was.driver, was.settings) == (
                device.enabled, device.driver, device.settings)

        unchanged = {d.name for d in new.devices if d.enabled and same(d)}
        keep = {r.state.name: r for r in self.runners if r.state.name in unchanged}
        # Devices that go: stopped first, their last reads (and an RFID reader's final report)
        # handled by the pipeline they were read under.
        await asyncio.to_thread(self._stop_devices, [r for r in self.runners if r.state.name not in unchanged])
        self.runners = list(keep.values())
        await asyncio.sleep(0)
        self._waiting_reads = []
        try:
            await self._run_cleanups()
            mqtt_changed = (new.mqtt, new.brokers, new.gateway_id, new.status) != (
                self.config.mqtt, self.config.brokers, self.config.gateway_id, self.config.status)
            self.config = new
            if mqtt_changed and self.publisher is not None and self.loop is not None and self.outbox is not None:
                await self.publisher.stop()
                self.publisher = Publisher(new, self.outbox, self.loop, self._status_for_broker, self._on_command)
                self.publisher.start()
            self.status_path = status_file.choose(new)
            self._build()
        finally:
            waiting, self._waiting_reads = self._waiting_reads, None
            if waiting and self.pipeline is not None:
                self.pipeline.on_reads(waiting)
        self.runners = []
        self._start_devices(keep)
        log.info("reloaded: %d devices (%d kept running)", len(self.runners), len(unchanged))

    # ---- status -------------------------------------------------------------------------

    def _on_command(self, topic: str, payload: bytes) -> None:
        on_topic = self.parts.topics.get(topic.rsplit("/", 1)[-1])
        if on_topic is not None:  # e.g. the retained manifest (assembly.manifests)
            on_topic(payload)
            return
        handler = self.parts.command_handler
        if handler is not None:
            handler(topic, payload)
        else:
            log.warning("refused a remote command: remote commands are not enabled on this gateway")

    def _status_for_broker(self) -> dict[str, Any]:
        snapshot = self.status()
        out = {k: snapshot[k] for k in ("backlog", "drops", "quarantine", "devices", "last_event", "instance")
               if k in snapshot}
        out["health"] = snapshot.get("health")
        return out

    def status(self) -> dict[str, Any]:
        outbox = self.outbox.stats() if self.outbox else {}
        link = self.publisher.link if self.publisher else None
        status: dict[str, Any] = {
            "gateway": self.config.gateway_id,
            "version": __version__,
            "pid": os.getpid(),
            "state": "running" if self.ready else "starting",
            "started": self.started,
            "uptime_s": round(time.time() - self.started, 1),
            "time": time.time(),
            "health": self.supervisor.health.as_dict(),
            "broker": None if self.publisher is None else self.publisher.status(),
            "backlog": {k: outbox.get(k) for k in ("events", "positions", "rejects", "bytes", "budget_bytes",
                                                   "limit_bytes", "oldest_age_s", "held")},
            "outbox": {k: outbox.get(k) for k in ("commits", "commit_failures", "failing", "repaired")},
            "drops": outbox.get("drops", {}),
            "quarantine": outbox.get("quarantined", {}),
            "supervisor": {"restarts": dict(self.supervisor.restarts)},
            "devices": [
                {"name": r.state.name, "driver": r.state.driver, "where": r.state.where, "state": r.state.state,
                 "since": r.state.since, "error": r.state.error, "reads": r.state.reads,
                 "errors": r.state.errors, "paused": r.state.paused, "pauses": r.state.pauses,
                 "last_read": r.state.last_read, **driver_stats(r.driver)}
                for r in self.runners
            ],
            "recent": self.recent.status(),
        }
        if link is not None:
            status["instance"] = self.publisher.instance if self.publisher else None
        if self.pipeline is not None:
            status.update(self.pipeline.status())
        for key, part in self.parts.status.items():
            try:
                status[key] = part()
            except Exception:  # noqa: BLE001 - one part's status must not hide the rest; logged
                log.exception("status part %s failed", key)
        return status

    def _write_status(self, state: str | None = None) -> None:
        """The status snapshot for `tally status`, in the runtime directory (tmpfs), built once a second and
        written when it says something new (status_file.StatusFile)."""
        if self.status_path is None:
            return
        try:
            snapshot = self.status()
            if state:
                snapshot["state"] = state
            if self._status_file is None or self._status_file.path != self.status_path:
                self._status_file = status_file.StatusFile(self.status_path)
            self._status_file.update(snapshot, force=state is not None)
        except Exception:  # noqa: BLE001 - only `tally status` misses a refresh; the failures are counted
            self._status_failures += 1
            if self._status_failures in (1, 10, 100) or self._status_failures % 1000 == 0:
                log.exception("could not write the status file %s (%d failures)", self.status_path,
                              self._status_failures)


def run(config: Config) -> int:
    return asyncio.run(Daemon(config).run())
