"""Run the central tracker in the foreground: MQTT ingest from a fleet of gateways into one store,
the EPCIS query interface, tracking and recall over HTTP. SIGTERM/SIGINT: commit, exit 0."""

from __future__ import annotations

import argparse
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="the tracker's TOML config (with a [tracker] section)")


def load(path: str):
    """The tracker config, or None after printing one line per problem (naming the key) on stderr."""
    from tracker.config import ConfigError, load as load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return None


def check_config(path: str) -> int:
    config = load(path)
    if config is None:
        return 2
    print(f"{path}: ok (tracker {config.tracker_id}, store {config.store.split(':', 1)[0]}, "
          f"broker {', '.join(map(str, config.brokers))}, share group {config.tracker['share_group']})")
    return 0


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    if config is None:
        return 2
    logging.basicConfig(level=config.tracker["log_level"].upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from tracker.db import StoreError
    from gateway.credentials import CredentialsError
    from tracker.service import run as run_tracker

    try:
        return run_tracker(config)
    except (StoreError, CredentialsError) as exc:
        print(f"tally tracker: {exc}", file=sys.stderr)
        return 1


def start_for_demo(workdir, broker_port: int):
    """The demo's tracker (SQLite, the page on 127.0.0.1:8080 or a free port): (process, page URL), or
    (None, reason) when the tracker's extra is not installed."""
    import importlib.util
    import os
    import socket
    import subprocess
    from pathlib import Path

    from ..broker import free_port

    if importlib.util.find_spec("jsonschema_rs") is None:
        return None, "the tracker needs its extra: pip install 'tally-gateway[tracker]'"
    port = 8080
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server will
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            port = free_port()
    config = Path(workdir) / "tracker.toml"
    config.write_text(f'[tracker]\nid = "demo"\nstore = "sqlite:tracker.sqlite3"\nlisten = "127.0.0.1:{port}"\n'
                      f'log_level = "warning"\n[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n')
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "tracker", "-c", str(config)],
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.DEVNULL)
    # Subscribed before the gateway publishes, so the page shows the demo from its first scan.
    import time
    import urllib.request

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}/"


def stop_for_demo(proc) -> None:
    import signal
    import subprocess

    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
