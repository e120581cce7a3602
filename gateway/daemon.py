"""The daemon: one asyncio loop owning the pipeline and publisher; devices and the outbox writer in threads.

Start order follows the promise: the outbox is open before any device is, so the
first read has somewhere durable to go. Stop order is the reverse: devices stop
(their last half-framed reads flushed into the pipeline), the outbox commits
everything queued, the publisher gets a moment to finish in-flight messages and
says `offline`, and the process exits 0. SIGHUP reloads the config in place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from typing import Any, Callable

import drivers
from drivers.base import Read

from . import __version__, daemon_signals, systemd
from .config import Config, ConfigError, load
from .device_runner import DeviceRunner
from .outbox import Outbox
from .pipeline import Pipeline
from .publisher import Publisher

log = logging.getLogger("tally")

#: hooks other parts of the gateway use to extend the daemon without touching its core:
#: each is called as hook(daemon) after the pipeline is built (GPS, RFID cycles, health server, ...)
PLUGINS: list[Callable[["Daemon"], None]] = []

IDLE_TICK = 0.5


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        self.started = time.time()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outbox: Outbox | None = None
        self.publisher: Publisher | None = None
        self.pipeline: Pipeline | None = None
        self.runners: list[DeviceRunner] = []
        self.stopping: asyncio.Event | None = None
        self.ticks: list[Callable[[float], None]] = []  # called every tick_interval on the loop
        #: seconds between ticks; parts that need finer timing (RFID cycles) lower it, idle stays cheap
        self.tick_interval = IDLE_TICK
        self.status_parts: dict[str, Callable[[], Any]] = {}
        self.cleanups: list[Callable[[], Any]] = []
        #: (topic, payload) of a message on the command topic; set by the remote-commands plugin
        self.command_handler: Callable[[str, bytes], None] | None = None
        self.ready = False
        self._reload_lock = asyncio.Lock()

    # ---- life cycle ---------------------------------------------------------------------

    async def run(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(cfg.data_dir / "outbox.sqlite3", max_bytes=int(cfg.outbox["max_mb"] * 1024 * 1024),
                             durability=cfg.outbox["durability"], batch_ms=cfg.outbox["batch_ms"],
                             on_commit=self._committed).start()
        backlog = self.outbox.stats()
        log.info("tally %s: gateway %s, outbox %s (%d events, %d positions, %d rejects waiting)", __version__,
                 cfg.gateway_id, self.outbox.path, backlog["events"], backlog["positions"], backlog["rejects"])
        self.publisher = Publisher(cfg, self.outbox, self.loop, self._status_for_broker, self._on_command)
        self.publisher.start()
        self._build_pipeline()
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

    def _build_pipeline(self) -> None:
        assert self.outbox is not None
        self.pipeline = Pipeline(self.config, self.outbox)
        self.ticks = []
        self.tick_interval = IDLE_TICK
        self.status_parts = {}
        self.command_handler = None
        for plugin in PLUGINS:
            plugin(self)

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
            runner = DeviceRunner(cls(device.name, device.settings), self._reads_from_thread)
            runner.start()
            self.runners.append(runner)

    def _stop_devices(self, runners: list[DeviceRunner] | None = None) -> None:
        runners = self.runners if runners is None else runners
        for runner in runners:
            runner._stop.set()  # all at once: each stop() then waits for only one read timeout
        for runner in runners:
            runner.stop()
        if runners is self.runners:
            self.runners = []

    def _reads_from_thread(self, reads: list[Read]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._on_reads, reads)

    def _on_reads(self, reads: list[Read]) -> None:
        if self.pipeline is not None:
            self.pipeline.on_reads(reads)

    def _committed(self, last_id: int) -> None:
        loop, publisher = self.loop, self.publisher
        if loop is not None and publisher is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(publisher.wake)
            except RuntimeError:
                pass  # the loop closed during shutdown; the rows stay in the outbox

    async def _main_loop(self) -> None:
        assert self.stopping is not None
        watchdog = systemd.watchdog_interval()
        last_watchdog = last_status = 0.0
        last_broker_status = time.monotonic()  # the publisher already says "online" on connect
        status_interval = float(self.config.mqtt["status_interval"])
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), self.tick_interval)
            except asyncio.TimeoutError:
                pass
            now = time.monotonic()
            for tick in list(self.ticks):
                try:
                    tick(time.time())
                except Exception:
                    log.exception("periodic task failed")
            if watchdog and now - last_watchdog >= watchdog:
                # The loop itself is the thing that must be alive: ping only from here.
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
        await asyncio.to_thread(self.outbox.flush)
        if self.publisher is not None:
            await self.publisher.stop()
        self._write_status(state="stopped")
        stats = self.outbox.stats()
        self.outbox.close()
        log.info("stopped cleanly: %d events, %d positions, %d rejects wait in the outbox for the broker",
                 stats["events"], stats["positions"], stats["rejects"])

    async def _run_cleanups(self) -> None:
        """What this pipeline build's parts registered to do before it goes (flush cycles, stop servers)."""
        cleanups, self.cleanups = self.cleanups, []
        for cleanup in cleanups:
            try:
                result = cleanup()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
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
            new = load(path)
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
        await asyncio.to_thread(self._stop_devices, [r for r in self.runners if r.state.name not in unchanged])
        self.runners = []
        await asyncio.sleep(0)  # reads already handed over reach the old pipeline first
        await self._run_cleanups()
        mqtt_changed = (new.mqtt, new.brokers, new.gateway_id, new.status) != (
            self.config.mqtt, self.config.brokers, self.config.gateway_id, self.config.status)
        self.config = new
        if mqtt_changed and self.publisher is not None and self.loop is not None and self.outbox is not None:
            await self.publisher.stop()
            self.publisher = Publisher(new, self.outbox, self.loop, self._status_for_broker, self._on_command)
            self.publisher.start()
        self._build_pipeline()
        self._start_devices(keep)
        log.info("reloaded: %d devices (%d kept running)", len(self.runners), len(unchanged))

    # ---- status -------------------------------------------------------------------------

    def _on_command(self, topic: str, payload: bytes) -> None:
        if self.command_handler is not None:
            self.command_handler(topic, payload)
        else:
            log.warning("refused a remote command: remote commands are not enabled on this gateway")

    def _status_for_broker(self) -> dict[str, Any]:
        snapshot = self.status()
        return {k: snapshot[k] for k in ("backlog", "drops", "devices", "last_event") if k in snapshot}

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
            "broker": None if link is None else {
                "state": link.state, "broker": link.broker, "since": link.since, "error": link.error,
                "protocol": link.protocol, "connects": link.connects,
                "published": self.publisher.published if self.publisher else 0,
                "acked": self.publisher.acked if self.publisher else 0,
                "in_flight": self.publisher.pending() if self.publisher else 0,
            },
            "backlog": {k: outbox.get(k) for k in ("events", "positions", "rejects", "bytes", "budget_bytes",
                                                   "oldest_age_s")},
            "drops": outbox.get("drops", {}),
            "devices": [
                {"name": r.state.name, "driver": r.state.driver, "where": r.state.where, "state": r.state.state,
                 "since": r.state.since, "error": r.state.error, "reads": r.state.reads,
                 "last_read": r.state.last_read}
                for r in self.runners
            ],
        }
        if self.pipeline is not None:
            status.update(self.pipeline.status())
        for key, part in self.status_parts.items():
            try:
                status[key] = part()
            except Exception:
                log.exception("status part %s failed", key)
        return status

    def _write_status(self, state: str | None = None) -> None:
        """status.json in the data dir, for `tally status` (atomic: readers never see half a file)."""
        try:
            snapshot = self.status()
            if state:
                snapshot["state"] = state
            path = self.config.data_dir / "status.json"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(snapshot, indent=1, default=str))
            os.replace(tmp, path)
        except Exception:
            log.exception("could not write status.json")


def run(config: Config) -> int:
    return asyncio.run(Daemon(config).run())
