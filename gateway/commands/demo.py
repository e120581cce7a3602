"""The whole system on one machine: simulated devices, a private broker, the gateway, and a live view.

Starts a private mosquitto on a free loopback port (not the system broker), the
simulators, and the gateway with gateway/demo.toml; then prints every event the
broker delivers, one line each. Ctrl+C stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.camera import VideoFileCamera
from simulators.gps import GpsSimulator
from simulators.labels import check_digit, labels
from simulators.llrp_reader import LlrpReaderSimulator, PalletPass
from simulators.serial_scanner import SerialScannerSimulator

from ..broker import BrokerUnavailable, Mosquitto


PALLET = "10614141123456789"
PARCEL = "1Z5R89390357567127"  # a UPS number with a valid check digit
# The truck at door 1: the centre's manifest lists three cartons; a fourth, not on it, is loaded too.
CARTONS = [body + check_digit(body) for body in ("00614141000000001", "00614141000000002", "00614141000000003")]
WRONG_CARTON = "00614141000000099" + check_digit("00614141000000099")
MANIFEST = {"name": "truck-0815", "devices": ["door-1-scanner"], "expected": [{"sscc": c} for c in CARTONS]}
HEARD = {b"\x07": "beep (accepted)", b"\x15BAD\r": "BAD", b"DUP\r": "DUP", b"\x1bWRONG\r": "WRONG CARTON",
         b"DONE\r": "DONE (manifest complete)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=1.0, help="scans per second from the simulated scanner")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl+C)")
    parser.add_argument("--json", action="store_true", help="print whole events as JSON lines")
    parser.add_argument("--keep", action="store_true", help="keep the demo's data directory")


def summarize(topic: str, payload: bytes) -> str:
    try:
        msg = json.loads(payload)
    except ValueError:
        return f"{topic}: {payload[:80]!r}"
    kind = topic.rsplit("/", 1)[-1]
    if kind == "events":
        what = msg.get("epcList") or [q["epcClass"] + f" x{q.get('quantity', 1)}" for q in msg.get("quantityList", [])]
        if len(what) > 3:
            what = what[:2] + [f"... {len(what)} tags in all"]
        if msg.get("type") == "AggregationEvent":
            what = [f"{msg.get('parentID')} <- {len(msg.get('childEPCs', []))} units"]
        return (f"#{msg.get('tally:seq')} {msg.get('type')} {msg.get('bizStep', '-')}/{msg.get('disposition', '-')} "
                f"{', '.join(what)}  [{msg.get('tally:device')}]")
    if kind == "rejects":
        return f"reject from {msg.get('device')}: {msg.get('error')}  raw={msg.get('raw')!r}"
    if kind == "status":
        return f"status: {msg.get('state')}"
    if kind == "feedback":
        extra = f" ({msg['reason']})" if msg.get("reason") else ""
        extra += f" manifest {msg['manifest']}" if msg.get("manifest") else ""
        return f"  -> {msg.get('kind', '?').upper()} {msg.get('text', '')!r}{extra}  [{msg.get('device')}]"
    if kind == "manifest-report":
        return (f"manifest {msg.get('name')} closed ({msg.get('reason')}): {msg.get('seen')} of {msg.get('expected')}"
                f", missing {json.dumps(msg.get('missing'))}, extra {json.dumps(msg.get('extra'))}")
    if kind == "manifest":
        return f"manifest {msg.get('name')} published: {len(msg.get('expected', []))} cartons expected"
    if kind == "positions":
        return f"position: {msg.get('lat'):.5f}, {msg.get('lon'):.5f} at {msg.get('time')}  [{msg.get('device')}]"
    return f"{kind}: {json.dumps(msg)[:120]}"


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="tally-demo-"))
    broker = Mosquitto()
    try:
        broker.start()
    except BrokerUnavailable as exc:
        print(f"tally demo: {exc}", file=sys.stderr)
        return 2
    scanner = SerialScannerSimulator(str(workdir / "scanner")).start()
    reader = LlrpReaderSimulator(scenario=PalletPass(cases=24, pass_s=3.0, gap_s=9.0), rate=300).start()
    gps = GpsSimulator(str(workdir / "gps"), rate_hz=1).start()
    camera = VideoFileCamera(frames=40, fps=2).start()
    template = resources.files("gateway").joinpath("demo.toml").read_text()
    config = (template.replace("@DATA_DIR@", str(workdir / "data")).replace("@BROKER_PORT@", str(broker.port))
              .replace("@SCANNER@", scanner.path).replace("@LLRP_PORT@", str(reader.port))
              .replace("@GPS@", gps.path).replace("@CAMERA@", camera.path))
    config_path = workdir / "tally.toml"
    config_path.write_text(config)
    print(f"tally demo: broker 127.0.0.1:{broker.port}, serial scanner {scanner.path}, LLRP reader "
          f"127.0.0.1:{reader.port}, GPS {gps.path}, camera {camera.path}; config {config_path}", file=sys.stderr)

    # The central side too: the tracker stores what the gateway sends and serves the tracking page.
    from .tracker import start_for_demo, stop_for_demo

    tracker, page = start_for_demo(workdir, broker.port)
    if tracker is None:
        print(f"tally demo: no tracker: {page}", file=sys.stderr)
    else:
        print(f"tally demo: tracking page {page} (type a parcel number such as {PARCEL}, or a label below)",
              file=sys.stderr)

    lock = threading.Lock()
    online = threading.Event()

    def on_message(client, userdata, message):
        if message.topic.endswith("/status") and b'"online"' in message.payload and not message.retain:
            online.set()
        with lock:
            if args.json:
                print(message.payload.decode("utf-8", "replace"), flush=True)
            else:
                print(summarize(message.topic, message.payload), flush=True)

    viewer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tally-demo-viewer")
    viewer.on_message = on_message
    viewer.on_connect = lambda c, *a: c.subscribe("tally/#", qos=1)
    viewer.connect("127.0.0.1", broker.port)
    viewer.loop_start()
    # The centre's manifest for the truck at door 1, retained: the gateway gets it when it connects.
    viewer.publish("tally/demo-dock-01/manifest", json.dumps(MANIFEST), qos=1, retain=True).wait_for_publish(5)

    def heard(data: bytes) -> None:
        with lock:
            print(f"  scanner heard: {HEARD.get(data, repr(data))}", flush=True)

    scanner.on_receive = heard

    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "run", "-c", str(config_path)],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # A realistic dock: mostly labels, now and then a mode change, a packing session and a bad scan.
    def script():
        gen = labels()
        # Loading the truck against its manifest: a carton that does not belong, one scanned twice.
        yield "MODE-SHIPPING"
        yield "]C100" + CARTONS[0]
        yield "]C100" + WRONG_CARTON
        yield "]C100" + CARTONS[1]
        yield "]C100" + CARTONS[1]
        yield "]C100" + CARTONS[2]
        yield "MANIFEST-CLOSE"
        yield "MODE-RECEIVING"
        while True:
            for _ in range(8):
                yield next(gen)
            yield "]C1010950600013435X"  # a smudged label: bad check digit
            yield "PACK-START"
            yield "]C100" + PALLET + check_digit(PALLET)  # the pallet's SSCC
            for _ in range(3):
                yield next(gen)
            yield "PACK-CLOSE"
            yield PARCEL  # a carrier's parcel label, to look up on the tracking page
            yield "MODE-SHIPPING"
            for _ in range(4):
                yield next(gen)
            yield "MODE-RECEIVING"

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        online.wait(15)  # the gateway is up (its devices open right after): the manifest's scans are not lost
        time.sleep(0.5)
        scanner.play(script(), args.rate)
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set() and gateway.poll() is None:
            if deadline and time.monotonic() >= deadline:
                break
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        scanner.stop()
        if gateway.poll() is None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(15)
            except subprocess.TimeoutExpired:
                gateway.kill()
        time.sleep(0.3)
        stop_for_demo(tracker)  # after the gateway: its offline status is stored too
        viewer.loop_stop()
        for sim in (reader, gps, camera):
            sim.stop()
        broker.close()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if gateway.returncode in (0, None) else 1
