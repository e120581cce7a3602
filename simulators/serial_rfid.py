"""An M100-style serial UHF RFID module on a pty, answering polls with the tags in its field.

    with SerialRfidSimulator(tags=[epc1, epc2]) as module:
        ... open module.path with pyserial at 115200 baud ...

It answers version queries, single polls (a notice per tag, or error 0x15 when none answers),
multi-polls (a round of notices every `round_s` until the count is reached or 0x28 stops it),
transmit power get/set, and rejects unknown commands with error 0x17, as the modules do.
"""

from __future__ import annotations

import argparse
import random
import threading
import time

from simulators import m100_frames as m100
from simulators.sgtin import sgtin96
from simulators.pty_device import PtyDevice


class SerialRfidSimulator:
    def __init__(self, path: str | None = None, *, tags: list[bytes] | None = None, rssi: tuple[int, int] = (-65, -45),
                 read_probability: float = 1.0, round_s: float = 0.02, hardware: str = "M100 26dBm V1.0",
                 seed: int = 0):
        self.device = PtyDevice(path)
        self.tags: list[bytes] = list(tags) if tags is not None else [sgtin96("0614141", "812345", n, 1)
                                                                       for n in range(1, 6)]
        self.rssi = rssi
        self.read_probability = read_probability
        self.round_s = round_s
        self.hardware = hardware
        self.power_centi_dbm = 2600
        self.rng = random.Random(seed)
        self.framer = m100.CommandReader()
        self.commands: list[m100.Command] = []
        self.notices_sent = 0
        self._rounds_left = 0
        self._next_round = 0.0
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return str(self.device.path)

    @property
    def multi_polling(self) -> bool:
        return self._rounds_left > 0

    def start(self) -> "SerialRfidSimulator":
        self.device.plug()
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name="serial-rfid-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.device.close()

    def __enter__(self) -> "SerialRfidSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def unplug(self) -> None:
        self._rounds_left = 0
        self.device.unplug()

    def plug(self) -> None:
        self.device.plug()

    def send_raw(self, data: bytes) -> None:
        """Line noise, half frames, whatever a flaky cable produces."""
        self.device.write(data)

    # --- the module -------------------------------------------------------------------------

    def _loop(self) -> None:
        while self._running.is_set():
            if not self.device.plugged:
                time.sleep(0.01)
                continue
            data = self.device.read(4096, timeout=0.005)
            if data:
                for frame in self.framer.feed(data):
                    if frame.type == m100.COMMAND:
                        self.commands.append(frame)
                        self._answer(frame)
            now = time.monotonic()
            if self._rounds_left and now >= self._next_round:
                self._rounds_left -= 1
                self._next_round = now + self.round_s
                self.device.write(self._round(report_empty=False))

    def _round(self, report_empty: bool) -> bytes:
        out = bytearray()
        for epc in list(self.tags):
            if self.read_probability < 1.0 and self.rng.random() >= self.read_probability:
                continue
            out += m100.tag_notice(self.rng.randint(*self.rssi), epc)
            self.notices_sent += 1
        if not out and report_empty:
            out += m100.error(m100.NO_TAG)
        return bytes(out)

    def _answer(self, frame: m100.Command) -> None:
        command, payload = frame.command, frame.payload
        reply = b""
        if command == m100.GET_INFO and len(payload) == 1:
            text = {m100.HARDWARE: self.hardware, m100.SOFTWARE: "V2.3.5",
                    m100.MANUFACTURER: "MagicRF"}.get(payload[0], "")
            reply = m100.frame(m100.RESPONSE, command, payload + text.encode())
        elif command == m100.SINGLE_POLL and not payload:
            reply = self._round(report_empty=True)
        elif command == m100.MULTI_POLL and len(payload) == 3:
            self._rounds_left = int.from_bytes(payload[1:3], "big")
            self._next_round = time.monotonic()
        elif command == m100.STOP_MULTI_POLL:
            self._rounds_left = 0
            reply = m100.frame(m100.RESPONSE, command, b"\x00")
        elif command == m100.SET_POWER and len(payload) == 2:
            value = int.from_bytes(payload, "big")
            if 1000 <= value <= 3000:
                self.power_centi_dbm = value
                reply = m100.frame(m100.RESPONSE, command, b"\x00")
            else:
                reply = m100.error(m100.INVALID_COMMAND)
        elif command == m100.GET_POWER:
            reply = m100.frame(m100.RESPONSE, command, self.power_centi_dbm.to_bytes(2, "big"))
        else:
            reply = m100.error(m100.INVALID_COMMAND)
        if reply:
            self.device.write(reply)


# --- CLI ------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", default=None, help="path of the symlink to the pty (default: a temp path)")
    parser.add_argument("--tags", type=int, default=5, help="SGTIN-96 tags in the field (default 5)")
    parser.add_argument("--probability", type=float, default=0.9, help="chance a tag answers a round (default 0.9)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    tags = [sgtin96("0614141", "812345", n, 1) for n in range(1, args.tags + 1)]
    module = SerialRfidSimulator(args.link, tags=tags, read_probability=args.probability, seed=args.seed)
    module.start()
    print(f"M100 UHF module on {module.path} (115200 baud, {len(tags)} tags); Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        module.stop()
    return 0


__all__ = ["SerialRfidSimulator", "add_arguments", "run"]
