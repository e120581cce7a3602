"""`{root}/{gateway_id}/feedback`: each outcome as JSON for a display or a handheld app.

Transient (QoS 1, not through the outbox): a signal for a person at the door is worth nothing
minutes later, so while the broker is away it is counted as unsent, never queued. The scan's
content is in the payload only, never in the topic (topics end up in broker logs and ACLs).
"""

from __future__ import annotations

from typing import Any, Callable

from ..events import iso_time
from ..outcomes import Outcome

SUFFIX = "feedback"


def payload(outcome: Outcome, gateway: str) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": outcome.kind, "gateway": gateway, "device": outcome.device,
                           "time": iso_time(outcome.time)}
    for name, value in (("text", outcome.text), ("reason", outcome.reason), ("eventID", outcome.event_id),
                        ("seq", outcome.seq), ("manifest", outcome.manifest)):
        if value is not None:
            out[name] = value
    if outcome.read_wall is not None:
        out["readTime"] = iso_time(outcome.read_wall)
    return out


class MqttFeedback:
    def __init__(self, gateway: str, publisher: Callable[[], Any]):
        self.gateway = gateway
        self.publisher = publisher
        self.sent = 0
        self.unsent = 0

    def __call__(self, outcome: Outcome) -> None:
        publisher = self.publisher()
        if publisher is not None and publisher.publish_transient(SUFFIX, payload(outcome, self.gateway)):
            self.sent += 1
        else:
            self.unsent += 1

    def status(self) -> dict[str, Any]:
        return {"channel": "mqtt", "sent": self.sent, "failed": self.unsent, "dropped": 0, "queued": 0,
                "error": None}
