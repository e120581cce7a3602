"""Prometheus metrics from the daemon's status snapshot (prometheus-client, imported only on a scrape)."""

from __future__ import annotations

import logging
import os
import re
import time
from datetime import datetime
from typing import Any, Callable, Iterable

log = logging.getLogger("tally.metrics")


def _timestamp(value: Any) -> float | None:
    """Epoch seconds from an epoch number or an ISO-8601 string (EPCIS/TPV times); None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


class StatusCollector:
    """prometheus-client Collector: every scrape turns one daemon.status() snapshot into metrics.

    Nothing is counted twice: the daemon's own counters are the source, this only renames them.
    """

    def __init__(self, snapshot: Callable[[], dict[str, Any]], started: float):
        self.snapshot = snapshot
        self.started = started

    def describe(self) -> Iterable[Any]:
        return []  # unchecked collector: families vary with devices and streams

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        def gauge(name: str, doc: str, value: float | None = None, labels: list[str] | None = None):
            return GaugeMetricFamily(name, doc, value=value, labels=labels)

        def per(family: Any, values: dict[str, Any] | None) -> Any:
            """`family` with one sample per key of `values` (its one label), in key order."""
            for key, count in sorted((values or {}).items()):
                family.add_metric([key], count or 0)
            return family

        yield from self._process(gauge, CounterMetricFamily)
        try:
            s = self.snapshot()
        except Exception as exc:
            log.warning("metrics: no status from the main loop: %s", exc)
            yield gauge("tally_healthy", "1 when /healthz says ok", 0)
            return
        h = s.pop("_health", {})
        yield gauge("tally_healthy", "1 when /healthz says ok", 1 if h.get("ok") else 0)
        info = InfoMetricFamily("tally_build", "the gateway's version and id")
        info.add_metric([], {"version": str(s.get("version")), "gateway": str(s.get("gateway"))})
        yield info
        yield gauge("tally_uptime_seconds", "seconds since the daemon started", s.get("uptime_s") or 0)
        if h.get("tick_age_s") is not None:
            yield gauge("tally_main_loop_tick_age_seconds", "age of the main loop's last periodic tick",
                        h["tick_age_s"])

        for key, value in sorted((s.get("counters") or {}).items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
                yield CounterMetricFamily(f"tally_{name}", f"pipeline: {key} since start or reload", value=value)

        backlog = s.get("backlog") or {}
        waiting = gauge("tally_outbox_backlog", "records waiting in the outbox for the broker", labels=["stream"])
        for stream in ("events", "positions", "rejects"):
            waiting.add_metric([stream], backlog.get(stream) or 0)
        yield waiting
        yield gauge("tally_outbox_bytes", "outbox size counted against the budget", backlog.get("bytes") or 0)
        yield gauge("tally_outbox_budget_bytes", "outbox disk budget (outbox.max_mb)", backlog.get("budget_bytes") or 0)
        yield gauge("tally_outbox_oldest_age_seconds", "age of the oldest record waiting (0 when empty)",
                    backlog.get("oldest_age_s") or 0)
        yield per(CounterMetricFamily("tally_outbox_drops", "records the full outbox refused or evicted",
                                      labels=["stream"]), s.get("drops"))
        yield per(gauge("tally_outbox_quarantine", "records the broker refused for good, kept aside on disk",
                        labels=["stream"]), s.get("quarantine"))
        yield gauge("tally_outbox_held", "records waiting in memory for room or a working disk (devices paused)",
                    backlog.get("held") or 0)
        yield gauge("tally_outbox_limit_bytes", "the outbox budget the disk allows now", backlog.get("limit_bytes") or 0)
        box = s.get("outbox") or {}
        yield CounterMetricFamily("tally_outbox_commit_failures", "outbox commits that failed (and were retried)",
                                  value=box.get("commit_failures") or 0)
        yield gauge("tally_outbox_failing", "1 while outbox commits fail", 1 if box.get("failing") else 0)
        yield gauge("tally_degraded", "1 while /healthz lists warnings (refusals, quarantine, duplicate id)",
                    1 if h.get("degraded") else 0)
        yield per(CounterMetricFamily("tally_worker_restarts", "threads the supervisor had to start again",
                                      labels=["worker"]), (s.get("supervisor") or {}).get("restarts"))

        broker = s.get("broker") or {}
        yield gauge("tally_broker_connected", "1 while connected to an MQTT broker",
                    1 if broker.get("state") == "connected" else 0)
        yield CounterMetricFamily("tally_broker_connects", "successful broker connections",
                                  value=broker.get("connects") or 0)
        yield CounterMetricFamily("tally_broker_published", "messages handed to the broker (QoS 1)",
                                  value=broker.get("published") or 0)
        yield CounterMetricFamily("tally_broker_acked", "messages the broker acknowledged (PUBACK)",
                                  value=broker.get("acked") or 0)
        yield gauge("tally_broker_in_flight", "messages sent and not yet acknowledged", broker.get("in_flight") or 0)
        yield per(CounterMetricFamily("tally_broker_refusals", "messages the broker refused (MQTT 5 reason code)",
                                      labels=["reason"]), broker.get("refusals"))
        yield per(gauge("tally_broker_subscription_refused", "1 for each topic filter the broker refused in its SUBACK",
                        labels=["topic"]), {topic: 1 for topic in broker.get("subscriptions_refused") or ()})
        yield gauge("tally_broker_duplicate_id", "1 while another client seems to use this gateway's id",
                    1 if broker.get("duplicate_id") else 0)
        if broker.get("since"):
            yield gauge("tally_broker_state_since_timestamp_seconds", "when the broker link last changed state",
                        broker["since"])

        up = gauge("tally_device_up", "1 while the device is open", labels=["device", "driver"])
        reads = CounterMetricFamily("tally_device_reads", "reads from the device", labels=["device"])
        errors = CounterMetricFamily("tally_device_errors", "unexpected open/read failures of the device's driver",
                                     labels=["device"])
        paused = gauge("tally_device_paused", "1 while the device is not read for want of outbox room",
                       labels=["device"])
        last = gauge("tally_device_last_read_timestamp_seconds", "wall time of the device's last read",
                     labels=["device"])
        for d in s.get("devices") or []:
            name = str(d.get("name"))
            up.add_metric([name, str(d.get("driver"))], 1 if d.get("state") == "open" else 0)
            reads.add_metric([name], d.get("reads") or 0)
            errors.add_metric([name], d.get("errors") or 0)
            paused.add_metric([name], 1 if d.get("paused") else 0)
            if d.get("last_read"):
                last.add_metric([name], d["last_read"])
        yield up
        yield reads
        yield errors
        yield paused
        yield last

        event_time = _timestamp((s.get("last_event") or {}).get("time"))
        if event_time is not None:
            yield gauge("tally_last_event_timestamp_seconds", "eventTime of the last event accepted", event_time)
        active = (s.get("manifest") or {}).get("active")
        if isinstance(active, dict):
            for key, doc in (("expected", "units the active manifest expects"),
                             ("seen", "of those, seen so far"), ("extra", "scans not on the active manifest")):
                family = gauge(f"tally_manifest_{key}", doc, labels=["manifest"])
                family.add_metric([str(active.get("name"))], active.get(key) or 0)
                yield family
        channels = (s.get("feedback") or {}).get("channels") or []
        if channels:
            signals = CounterMetricFamily("tally_feedback_signals", "feedback signals per channel: sent, failed "
                                          "(the write failed) or dropped (its queue was full)",
                                          labels=["channel", "result"])
            for row in channels:
                for result in ("sent", "failed", "dropped"):
                    signals.add_metric([str(row.get("channel")), result], row.get(result) or 0)
            yield signals
        gps = s.get("gps")
        if isinstance(gps, dict):
            fix = (gps.get("fix") or {}) if "fix" in gps else gps
            fix = fix if isinstance(fix, dict) else {}
            age = fix.get("age_s")
            if age is None and _timestamp(fix.get("time")) is not None:
                age = max(0.0, time.time() - _timestamp(fix.get("time")))
            if isinstance(age, (int, float)) and not isinstance(age, bool):
                yield gauge("tally_gps_fix_age_seconds", "age of the last GPS fix", age)
            if isinstance(fix.get("mode"), int):
                yield gauge("tally_gps_mode", "GPS fix mode (1 none, 2 2D, 3 3D)", fix["mode"])

    def _process(self, gauge, counter) -> Iterable[Any]:
        # prometheus-client's ProcessCollector gives nothing when /proc/stat is hidden (ProcSubset=pid in the
        # unit), so the usual process_* series come from what a hardened process can still see.
        times = os.times()
        yield counter("process_cpu_seconds", "user and system CPU time", value=times.user + times.system)
        yield gauge("process_start_time_seconds", "when the daemon started (unix time)", self.started)
        try:
            with open("/proc/self/statm", "rb") as fh:
                pages = int(fh.read().split()[1])
            yield gauge("process_resident_memory_bytes", "resident memory", pages * os.sysconf("SC_PAGE_SIZE"))
            yield gauge("process_open_fds", "open file descriptors", len(os.listdir("/proc/self/fd")))
        except (OSError, ValueError, IndexError):
            pass


def metrics_text(collector: StatusCollector) -> tuple[bytes, str]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST
