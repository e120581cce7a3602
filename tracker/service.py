"""One tracker instance: the store, MQTT ingest and the HTTP interface, until SIGTERM or SIGINT.

A stop commits what has arrived and acknowledges it before disconnecting; what arrives after
that stays with the broker (persistent session) for the next start or another instance.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from .config import TrackerConfig
from .ingest import Ingest
from .notify import Deliverer
from .store import Store

log = logging.getLogger("tally.tracker")


class Tracker:
    def __init__(self, config: TrackerConfig):
        self.config = config
        self.store = Store(config.store, gap_grace=float(config.tracker["gap_grace"])).open()
        self.ingest = Ingest(config, self.store)
        self.deliverer = Deliverer(self.store.db)
        self.store.on_notify = self.deliverer.poke
        self.http: Any = None
        self.stopping = threading.Event()

    def start(self) -> "Tracker":
        self.deliverer.start()
        self.ingest.start()
        listen = self.config.tracker["listen"]
        if listen:
            from .auth import read_token
            from .http import Api, serve

            token_file = self.config.tracker.get("token_file")
            api = Api(self.store, self.healthy, self.counters, tiles=self.config.tracker["tiles"],
                      token=read_token(token_file) if token_file else None)
            self.http = serve(api, listen)
            log.info("HTTP on http://%s:%d/", *self.http.server_address[:2])
        return self

    def healthy(self) -> tuple[bool, list[str]]:
        problems = []
        if not self.ingest.connected:
            problems.append(f"not connected to the broker ({self.ingest.last_error or 'connecting'})")
        if self.ingest.refused:
            problems.append(f"the broker refused the subscriptions {', '.join(self.ingest.refused)}")
        if self.ingest.failing:
            problems.append(f"commits failing, messages wait unacknowledged ({self.ingest.failing[:300]})")
        try:
            self.store.db.schema_version()
        except Exception as exc:  # the answer to /healthz is the reason
            problems.append(f"store unreachable: {exc}")
        return not problems, problems

    def counters(self) -> dict[str, float]:
        c = self.ingest.counters
        return {"batches_total": c["batches"], "acked_total": c["acked"], "store_errors_total": c["store_errors"],
                "broker_connects_total": c["connects"], "broker_connected": int(self.ingest.connected),
                "subscriptions_refused_total": c["subscriptions_refused"],
                "gaps_reported_total": self.store.gap_counts["reported"],
                "gaps_filled_in_grace_total": self.store.gap_counts["filled_in_grace"],
                "backlog": self.ingest.backlog(), "deliveries_total": self.deliverer.counters["delivered"],
                "delivery_failures_total": self.deliverer.counters["failed_attempts"]}

    def stop(self) -> None:
        self.ingest.stop()
        self.deliverer.stop()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        self.store.close()


def run(config: TrackerConfig) -> int:
    tracker = Tracker(config)
    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tracker.start()
    log.info("tracker %s running (store: %s)", config.tracker_id, tracker.store.engine)
    while not done.wait(1.0):
        pass
    log.info("stopping")
    tracker.stop()
    log.info("stopped: %s", dict(tracker.store.counts))
    return 0
