"""Remote operation over MQTT: a short allow-list of commands on `{root}/{id}/commands`.

A command is JSON `{"id": "...", "command": "...", "args": {...}}`; its result goes to
`{root}/{id}/command-results` as `{"id", "command", "ok", "result" | "error", "gateway", "time"}`.

    ping       -> {"pong": true, "version", "uptime_s"}
    status     -> the daemon's status (as /status.json)
    reload     -> re-read the config file (the SIGHUP path); ok once the new config runs
    set-mode   args {"device", "biz_step"?, "disposition"?} or {"device", "reset": true}: the device's
               current mode, as a mode barcode sets it (until the next mode scan, reload or restart)
    manifest-close  -> {"closed": name, "report": {...}}: close the active manifest; its report also goes,
               retained, to `{root}/{id}/manifest-report`

Anything else is refused with an error result. Payloads are data: parsed as JSON, checked field by
field against fixed types and the same CBV vocabulary the config uses, never passed to a shell, eval
or a format string. Who may send commands is the broker's business (ACL on the commands topic);
`status.commands = false` turns them off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable

from . import __version__
from .config import DEVICE_COMMON, ConfigError, load
from .events import Where, iso_time
from .redact import redact

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("tally.remote")

MAX_PAYLOAD = 16 * 1024
RESULTS = "command-results"
COMMAND_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
REMEMBERED = 256  # command ids remembered, so a redelivered command is answered, not run twice


class Refused(Exception):
    """A command that is not run; the message goes back to the sender and into the log."""


def _shown(value: Any, limit: int = 40) -> str:
    """Something the sender chose, safe for a log line or an error: quoted, escaped, short."""
    text = value if isinstance(value, str) else repr(value)
    return ascii(text[:limit] + ("…" if len(text) > limit else ""))


class _Memory:
    """What outlives one RemoteCommands (the daemon builds a new one on every reload)."""

    def __init__(self) -> None:
        self.answers: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.reloading = False
        self.running: set[str] = set()  # ids of commands still at work (reload)
        self.tasks: set[asyncio.Task[Any]] = set()


_memory: "weakref.WeakKeyDictionary[Daemon, _Memory]" = weakref.WeakKeyDictionary()


class RemoteCommands:
    """daemon.command_handler: called on the asyncio loop with each message on the command topic."""

    def __init__(self, daemon: "Daemon"):
        self.daemon = daemon
        self.memory = _memory.setdefault(daemon, _Memory())
        self.commands: dict[str, tuple[Callable[[dict[str, Any]], Any], set[str]]] = {
            "ping": (self.ping, set()),
            "status": (self.status, set()),
            "reload": (self.reload, set()),
            "set-mode": (self.set_mode, {"device", "biz_step", "disposition", "reset"}),
            "manifest-close": (self.manifest_close, set()),
        }

    def __call__(self, topic: str, payload: bytes) -> None:
        publisher = self.daemon.publisher
        if publisher is not None and topic != publisher.command_topic:
            return  # not ours (the publisher subscribes to one topic only; this is belt and braces)
        seen: dict[str, str] = {}  # what parse() has checked so far: echoed even when refusing the rest
        try:
            command_id, name, args = self.parse(payload, seen)
            if command_id in self.memory.running:
                log.info("remote command %s (id %s): still running, ignoring the repeat", name, command_id)
                return
            earlier = self.memory.answers.get(command_id)
            if earlier is not None:
                log.info("remote command %s (id %s): seen before, answering again", name, command_id)
                self.publish(earlier)
                return
            outcome = self.commands[name][0](args)
        except Refused as exc:
            command_id = seen.get("id")
            log.warning("refused a remote command%s: %s", f" (id {command_id})" if command_id else "", exc)
            self.answer(command_id, seen.get("command"), error=str(exc))
            return
        except Exception as exc:  # a bug here must not take the loop's callback down silently
            log.exception("remote command %s (id %s) failed", seen.get("command"), seen.get("id"))
            self.answer(seen.get("id"), seen.get("command"), error=f"internal error: {exc.__class__.__name__}")
            return
        if asyncio.iscoroutine(outcome):
            self.memory.running.add(command_id)
            task = asyncio.ensure_future(self._finish(command_id, name, outcome))
            self.memory.tasks.add(task)
            task.add_done_callback(self.memory.tasks.discard)
        else:
            log.info("remote command %s (id %s): ok", name, command_id)
            self.answer(command_id, name, result=outcome)

    async def _finish(self, command_id: str, name: str, outcome: Any) -> None:
        try:
            result = await outcome
        except Refused as exc:
            log.warning("remote command %s (id %s) failed: %s", name, command_id, exc)
            self.answer(command_id, name, error=str(exc))
        except Exception as exc:
            log.exception("remote command %s (id %s) failed", name, command_id)
            self.answer(command_id, name, error=f"internal error: {exc.__class__.__name__}")
        else:
            log.info("remote command %s (id %s): ok", name, command_id)
            self.answer(command_id, name, result=result)
        finally:
            self.memory.running.discard(command_id)

    # ---- checking what arrived ---------------------------------------------------------------

    def parse(self, payload: bytes, seen: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
        if len(payload) > MAX_PAYLOAD:
            raise Refused(f"payload is {len(payload)} bytes; a command is at most {MAX_PAYLOAD}")
        try:
            message = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError:
            raise Refused("payload is not UTF-8 text") from None
        except RecursionError:
            raise Refused("payload is nested too deeply") from None
        except ValueError as exc:
            raise Refused(f"payload is not JSON ({exc.msg} at character {getattr(exc, 'pos', '?')})") from None
        if not isinstance(message, dict):
            raise Refused(f"a command is a JSON object, got {type(message).__name__}")
        command_id = message.get("id")
        if not isinstance(command_id, str) or not COMMAND_ID.fullmatch(command_id):
            raise Refused("id must be a string of 1-128 letters, digits, _ . : - (e.g. a UUID)")
        seen["id"] = command_id
        unknown = sorted(set(message) - {"id", "command", "args"})
        if unknown:
            raise Refused(f"unknown field {_shown(unknown[0])} (fields: id, command, args)")
        name = message.get("command")
        if not isinstance(name, str):
            raise Refused("command must be a string")
        if name not in self.commands:
            raise Refused(f"unknown command {_shown(name)} (allowed: {', '.join(self.commands)})")
        seen["command"] = name
        args = message.get("args", {})
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise Refused(f"args must be a JSON object, got {type(args).__name__}")
        allowed = self.commands[name][1]
        extra = sorted(set(args) - allowed)
        if extra:
            raise Refused(f"{name}: unknown argument {_shown(extra[0])}"
                          + (f" (arguments: {', '.join(sorted(allowed))})" if allowed else " (it takes none)"))
        return command_id, name, args

    # ---- the commands ----------------------------------------------------------------------------

    def ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"pong": True, "version": __version__, "uptime_s": round(time.time() - self.daemon.started, 1)}

    def status(self, args: dict[str, Any]) -> dict[str, Any]:
        return redact(self.daemon.status())

    async def reload(self, args: dict[str, Any]) -> dict[str, Any]:
        path = self.daemon.config.path
        if path is None:
            raise Refused("this gateway was not started from a config file")
        if self.memory.reloading:
            raise Refused("a reload is already running")
        # The daemon keeps its running config when the new one is broken; check first so the sender
        # learns why, not just that nothing changed.
        try:
            await asyncio.to_thread(load, path)
        except ConfigError as exc:
            raise Refused("reload refused, the running config is kept: " + "; ".join(exc.problems[:10])) from None
        self.memory.reloading = True
        before = self.daemon.config
        try:
            await self.daemon.reload()
        finally:
            self.memory.reloading = False
        if self.daemon.config is before:
            raise Refused("reload refused, the running config is kept (see the gateway's log)")
        return {"reloaded": str(path), "devices": len(self.daemon.runners)}

    def set_mode(self, args: dict[str, Any]) -> dict[str, Any]:
        pipeline = self.daemon.pipeline
        if pipeline is None:
            raise Refused("the pipeline is not running")
        device = args.get("device")
        if not isinstance(device, str):
            raise Refused("set-mode: device must be a string")
        if device not in pipeline.devices:
            raise Refused(f"set-mode: no device {_shown(device)} (devices: {', '.join(sorted(pipeline.devices))})")
        reset = args.get("reset", False)
        if not isinstance(reset, bool):
            raise Refused("set-mode: reset must be true or false")
        values: dict[str, str | None] = {}
        for key, what in (("biz_step", "bizStep"), ("disposition", "disposition")):
            value = args.get(key)
            if value is None:
                values[key] = None
                continue
            if not isinstance(value, str):
                raise Refused(f"set-mode: {key} must be a string")
            problem = DEVICE_COMMON[key].check(value) if DEVICE_COMMON[key].check else None
            if problem:
                raise Refused(f"set-mode: {key}: {_shown(value)} is not a CBV {what} nor a URI")
            values[key] = value
        if reset:
            if values["biz_step"] or values["disposition"]:
                raise Refused("set-mode: reset goes alone (it returns the device to its configured mode)")
            pipeline.overrides.pop(device, None)
        elif not (values["biz_step"] or values["disposition"]):
            raise Refused("set-mode: give biz_step and/or disposition, or reset: true")
        else:
            pipeline.overrides[device] = Where(biz_step=values["biz_step"], disposition=values["disposition"])
        where = pipeline.where(device)
        log.info("%s: mode set remotely (bizStep %s, disposition %s)", device, where.biz_step, where.disposition)
        return {"device": device, "biz_step": where.biz_step, "disposition": where.disposition}

    def manifest_close(self, args: dict[str, Any]) -> dict[str, Any]:
        board = self.daemon.state.parts.get("manifest")
        if board is None or board.progress is None:
            raise Refused("manifest-close: no manifest is active")
        report = board.close_by("closed by remote command")
        return {"closed": report["name"] if report else None, "report": report}

    # ---- answering -------------------------------------------------------------------------------

    def answer(self, command_id: str | None, name: str | None, *, result: Any = None,
               error: str | None = None) -> None:
        message: dict[str, Any] = {"id": command_id, "command": name, "ok": error is None,
                                   "gateway": self.daemon.config.gateway_id, "time": iso_time(time.time())}
        if error is None:
            message["result"] = result
        else:
            message["error"] = error
        if command_id is not None:
            self.memory.answers[command_id] = message
            while len(self.memory.answers) > REMEMBERED:
                self.memory.answers.popitem(last=False)
        self.publish(message)

    def publish(self, message: dict[str, Any]) -> None:
        publisher = self.daemon.publisher
        if publisher is None or not publisher.publish_transient(RESULTS, message):
            log.warning("could not send the result of remote command %s (id %s): not connected to the broker",
                        message.get("command"), message.get("id"))
