"""Show the running daemon's state: devices, broker link, backlog, drops, last event, GPS fix.

Reads the status the daemon keeps in its runtime directory (rewritten when something changes, and at
least every 5 seconds); exit 1 if the daemon is not running (or has not written a status for 10 seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .. import status_file
from . import load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default="/etc/tally/tally.toml", help="the daemon's config file")
    parser.add_argument("--json", action="store_true", help="print the raw JSON")


def _ago(t: float | None) -> str:
    if not t:
        return "never"
    s = max(0.0, time.time() - t)
    return f"{s:.0f}s ago" if s < 120 else f"{s / 60:.0f}min ago" if s < 7200 else f"{s / 3600:.1f}h ago"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if config is None:
        return 2
    path = status_file.find(config)
    try:
        if path is None:
            raise OSError("no status file")
        status = json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"tally status: no status of gateway {config.gateway_id} (looked in the runtime directory and "
              f"{config.data_dir}): the daemon has not run with this config", file=sys.stderr)
        return 1
    running = status.get("state") == "running" and _alive(status.get("pid")) and time.time() - status.get("time", 0) < 10
    if args.json:
        status["running"] = running
        print(json.dumps(status, indent=1))
        return 0 if running else 1
    print(f"gateway {status['gateway']}: {'running' if running else 'NOT RUNNING'} "
          f"(pid {status.get('pid')}, up {status.get('uptime_s', 0):.0f}s, status {_ago(status.get('time'))})")
    b = status.get("broker") or {}
    print(f"broker: {b.get('state')} {b.get('broker') or ''} since {_ago(b.get('since'))}"
          + (f" — {b['error']}" if b.get("error") else "")
          + f"; published {b.get('published', 0)}, acked {b.get('acked', 0)}, in flight {b.get('in_flight', 0)}")
    q = status.get("backlog") or {}
    age = q.get("oldest_age_s")
    print(f"backlog: {q.get('events', 0)} events, {q.get('positions', 0)} positions, {q.get('rejects', 0)} rejects; "
          f"oldest {'-' if age is None else f'{age:.0f}s'}; {q.get('bytes', 0) / 1e6:.1f} of "
          f"{q.get('budget_bytes', 0) / 1e6:.0f} MB")
    drops = status.get("drops") or {}
    print("drops: " + (", ".join(f"{k} {v}" for k, v in drops.items() if v) or "none"))
    held = status.get("quarantine") or {}
    if any(held.values()):
        print("quarantine: " + ", ".join(f"{k} {v}" for k, v in held.items() if v)
              + " (the broker refused them for good; see tally outbox list)")
    health = status.get("health") or {}
    for reason in health.get("reasons") or []:
        print(f"FAILING: {reason}")
    for warning in health.get("warnings") or []:
        print(f"degraded: {warning}")
    for d in status.get("devices", []):
        print(f"device {d['name']} ({d['driver']}, {d['where']}): {d['state']}, {d['reads']} reads, "
              f"last {_ago(d.get('last_read'))}" + (f" — {d['error']}" if d.get("error") else ""))
    last = status.get("last_event")
    print("last event: " + (f"{last['type']} from {last['device']} at {last['time']}" if last else "none"))
    if status.get("gps"):
        print(f"gps: {json.dumps(status['gps'])}")
    manifest = (status.get("manifest") or {}).get("active")
    if manifest:
        print(f"manifest {manifest['name']}: {manifest['seen']} of {manifest['expected']}"
              + (", complete" if manifest.get("complete") else "")
              + (f", {manifest['extra']} not on it" if manifest.get("extra") else ""))
    for channel in (status.get("feedback") or {}).get("channels") or []:
        if channel.get("failed") or channel.get("dropped"):
            print(f"feedback {channel['channel']}: {channel.get('sent', 0)} sent, {channel.get('failed', 0)} failed, "
                  f"{channel.get('dropped', 0)} dropped" + (f" — {channel['error']}" if channel.get("error") else ""))
    return 0 if running else 1
