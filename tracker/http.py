"""The tracker's HTTP interface: EPCIS 2.0 queries (GS1's REST binding), tracking, recall, gaps,
health and metrics. JSON out; errors as RFC 7807 problem documents, EPCIS exception types where
EPCIS names one. Every route is in tracker/openapi.json (a test keeps them in step).
"""

from __future__ import annotations

import html
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from gateway.listen import parse_listen

from . import notify, query, track
from .auth import Bearer, is_open
from .identifiers import NotAnIdentifier, gtin_lot, resolve
from .store import Store

log = logging.getLogger("tally.tracker.http")

JSON = "application/json"
JSON_LD = "application/ld+json"


#: every route, as OpenAPI path templates (tracker/openapi.json must list each)
ROUTES = ("/events", "/events/{eventID}", "/epcs/{epc}/events", "/track/{identifier}", "/recall", "/gaps",
          "/conflicts", "/invalid", "/healthz", "/metrics", "/openapi.json", "/queries", "/queries/{queryName}",
          "/queries/{queryName}/events", "/queries/{queryName}/subscriptions",
          "/queries/{queryName}/subscriptions/{subscriptionID}", "/", "/static/{file}")
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png",
                ".html": "text/html; charset=utf-8"}
# The page draws tiles from the configured server and talks only to this one.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data: {tiles}; connect-src 'self'; script-src 'self'; "
               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
MAX_BODY = 64 * 1024


class Problem(Exception):
    def __init__(self, status: int, title: str, kind: str = "about:blank"):
        super().__init__(title)
        self.status, self.title, self.kind = status, title, kind


def not_found(what: str) -> Problem:
    return Problem(404, what, "epcisException:NoSuchResourceException")


class Api:
    """Routing and answers, separate from the socket plumbing."""

    def __init__(self, store: Store, health: Callable[[], tuple[bool, list[str]]] | None = None,
                 counters: Callable[[], dict[str, float]] | None = None, tiles: str = OSM_TILES,
                 token: str | None = None):
        self.store = store
        self.tiles = tiles
        self.bearer = Bearer(token) if token else None
        self.refused = 0
        web = resources.files("tracker").joinpath("web")
        #: the page's files by URL path; nothing else under /static is served (no path tricks)
        self.static = {f"/static/{p}": web.joinpath(p) for p in _files(web)}
        self.health = health or (lambda: (True, []))
        self.counters = counters or (lambda: {})
        self.requests = 0

    def handle(self, path: str, params: dict[str, list[str]], method: str = "GET",
               body: bytes = b"", authorization: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for a request."""
        self.requests += 1
        if self.bearer is not None and not is_open(path) and not self.bearer.allows(authorization):
            self.refused += 1
            headers = {"Content-Type": "application/problem+json", "WWW-Authenticate": 'Bearer realm="tally-tracker"'}
            return 401, headers, _json({"type": "about:blank", "status": 401,
                                        "title": "this tracker needs Authorization: Bearer <token>"})
        try:
            if path == "/queries" or path.startswith("/queries/"):
                return self.queries(method, path, params, body)
            if method != "GET":
                raise Problem(405, f"{method} is not allowed here")
            return self._route(path, params)
        except notify.SubscriptionError as exc:
            return 400, {"Content-Type": "application/problem+json"}, _json(
                {"type": "epcisException:ValidationException", "title": str(exc), "status": 400})
        except Problem as p:
            return p.status, {"Content-Type": "application/problem+json"}, _json(
                {"type": p.kind, "title": p.title, "status": p.status})
        except query.QueryParameterError as exc:
            return 400, {"Content-Type": "application/problem+json"}, _json(
                {"type": "epcisException:QueryParameterException", "title": str(exc), "status": 400})

    def _route(self, path: str, params: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        if path == "/events":
            return self.events(path, params)
        if path.startswith("/events/"):
            event = self.store.event(unquote(path[len("/events/"):]))
            if event is None:
                raise not_found("no event with that eventID")
            return 200, {"Content-Type": JSON_LD}, _json(event)
        if path.startswith("/epcs/") and path.endswith("/events") and len(path) > len("/epcs//events"):
            epc = unquote(path[len("/epcs/"):-len("/events")])
            return self.events(path, {**params, "MATCH_anyEPC": [epc.replace("|", "")]})
        if path.startswith("/track/") and len(path) > len("/track/"):
            return self.track(unquote(path[len("/track/"):]))
        if path == "/recall":
            return self.recall(params)
        if path == "/gaps":
            return 200, {"Content-Type": JSON}, _json({"gateways": self.store.gaps()})
        if path in ("/conflicts", "/invalid"):
            return 200, {"Content-Type": JSON}, _json({path[1:]: self.store.aside(path[1:])})
        if path == "/healthz":
            ok, problems = self.health()
            return (200 if ok else 503), {"Content-Type": JSON}, _json({"ok": ok, "problems": problems})
        if path == "/metrics":
            return 200, {"Content-Type": "text/plain; version=0.0.4"}, self.metrics().encode()
        if path == "/":
            return self.page()
        if path in self.static:
            name = path.rsplit("/", 1)[-1]
            kind = STATIC_TYPES.get(name[name.rfind("."):], "application/octet-stream")
            return 200, {"Content-Type": kind, "Cache-Control": "max-age=300"}, self.static[path].read_bytes()
        if path == "/openapi.json":
            return 200, {"Content-Type": JSON}, resources.files("tracker").joinpath("openapi.json").read_bytes()
        raise Problem(404, f"no such resource: {path[:200]}")

    def page(self) -> tuple[int, dict[str, str], bytes]:
        text = self.static["/static/index.html"].read_text()
        text = text.replace("{{tiles}}", html.escape(self.tiles, quote=True))
        origin = ""
        if self.tiles.startswith(("http://", "https://")):
            origin = "/".join(self.tiles.split("/")[:3]).replace("{s}.", "*.")
        headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": PAGE_POLICY.format(
            tiles=origin), "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
        return 200, headers, text.encode()

    def queries(self, method: str, path: str, params: dict[str, list[str]],
                body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Named queries and their subscriptions (EPCIS 2.0 REST: /queries, /queries/{name}/subscriptions)."""
        parts = [unquote(p) for p in path.split("/")[2:]]
        if parts == [] or parts == [""]:
            if method == "GET":
                with self.store.db.reading() as cur:
                    rows = cur.all("SELECT name, params FROM queries ORDER BY name")
                named = [{"name": n, "query": json.loads(q)} for n, q in rows]
                built = [{"name": n, "query": q, "builtIn": True} for n, q in notify.BUILT_IN.items()]
                special = [{"name": n, "query": {}, "builtIn": True} for n in notify.SPECIAL]
                return 200, {"Content-Type": JSON}, _json(built + special + named)
            if method == "POST":
                doc = _body(body)
                with self.store.db.transaction() as cur:
                    notify.create_query(cur, doc.get("name"), doc.get("query"))
                return 201, {"Content-Type": JSON, "Location": f"/queries/{quote(doc['name'])}"}, _json(
                    {"name": doc["name"]})
            raise Problem(405, f"{method} is not allowed here")
        name = parts[0]
        with self.store.db.reading() as cur:
            q = notify.query_params(cur, name)
        if q is None:
            raise not_found(f"no query named {name[:100]!r}")
        if len(parts) == 1:
            if method == "GET":
                return 200, {"Content-Type": JSON}, _json({"name": name, "query": q})
            if method == "DELETE":
                if name in notify.BUILT_IN or name in notify.SPECIAL:
                    raise Problem(400, "a built-in query cannot be deleted")
                with self.store.db.transaction() as cur:
                    if cur.one("SELECT 1 FROM subscriptions WHERE query = ?", (name,)):
                        raise Problem(409, "the query has subscriptions; delete them first")
                    cur.execute("DELETE FROM queries WHERE name = ?", (name,))
                return 204, {}, b""
        elif parts[1:] == ["events"] and method == "GET":
            if name in notify.SPECIAL:
                raise Problem(400, f"{name} is a notification, not an event query")
            merged = {**q, **{k: v for k, v in params.items() if k in (
                "perPage", "nextPageToken", "orderBy", "orderDirection", "eventCountLimit")}}
            return self.events(path, merged, link_params=params)
        elif parts[1:] == ["subscriptions"]:
            if method == "GET":
                with self.store.db.reading() as cur:
                    return 200, {"Content-Type": JSON}, _json(notify.subscriptions(cur, name))
            if method == "POST":
                with self.store.db.transaction() as cur:
                    sid = notify.subscribe(cur, name, _body(body))
                location = f"/queries/{quote(name)}/subscriptions/{sid}"
                return 201, {"Content-Type": JSON, "Location": location}, _json(
                    {"subscriptionID": str(sid), "queryName": name})
        elif len(parts) == 3 and parts[1] == "subscriptions":
            if method == "GET":
                with self.store.db.reading() as cur:
                    found = [s for s in notify.subscriptions(cur, name) if s["subscriptionID"] == parts[2]]
                if not found:
                    raise not_found("no such subscription")
                return 200, {"Content-Type": JSON}, _json(found[0])
            if method == "DELETE":
                with self.store.db.transaction() as cur:
                    if not notify.unsubscribe(cur, name, parts[2]):
                        raise not_found("no such subscription")
                return 204, {}, b""
        raise Problem(405 if len(parts) <= 3 else 404, f"{method} {path[:200]} is not supported")

    def events(self, path: str, params: dict[str, list[str]],
               link_params: dict[str, list[str]] | None = None) -> tuple[int, dict[str, str], bytes]:
        q = query.parse(params)
        with self.store.db.reading() as cur:
            events, token = query.run(cur, q)
        headers = {"Content-Type": JSON_LD}
        if token:
            rest = [(k, v) for k, vs in (link_params if link_params is not None else params).items()
                    if k != "nextPageToken" for v in vs]
            if path != "/events":
                rest = [(k, v) for k, v in rest if k != "MATCH_anyEPC"]
            link = f"{quote(path)}?{urlencode([*rest, ('nextPageToken', token)])}"
            headers["Link"] = f'<{link}>; rel="next"'
        return 200, headers, _json(query.document(events))

    def track(self, text: str) -> tuple[int, dict[str, str], bytes]:
        try:
            resolved = resolve(text)
        except NotAnIdentifier as exc:
            raise Problem(400, str(exc)) from None
        with self.store.db.reading() as cur:
            answer = track.track(cur, resolved)
        if not answer["history"] and len(answer["chain"]) == 1:
            raise not_found(f"nothing seen of {resolved.identifier}")
        return 200, {"Content-Type": JSON}, _json(answer)

    def recall(self, params: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        unknown = set(params) - {"gtin", "lot"}
        if unknown or not params.get("gtin") or not params.get("lot"):
            raise Problem(400, "give exactly gtin= and lot=")
        try:
            lot = gtin_lot(params["gtin"][-1], params["lot"][-1])
        except NotAnIdentifier as exc:
            raise Problem(400, str(exc)) from None
        with self.store.db.reading() as cur:
            return 200, {"Content-Type": JSON}, _json(track.recall(cur, lot))

    def metrics(self) -> str:
        lines = []
        for outcome, n in sorted(self.store.counts.items()):
            lines.append(f'tally_tracker_messages_total{{outcome="{outcome}"}} {n}')
        for name, value in sorted(self.counters().items()):
            lines.append(f"tally_tracker_{name} {value}")
        lines.append(f"tally_tracker_http_requests_total {self.requests}")
        lines.append(f"tally_tracker_http_unauthorized_total {self.refused}")
        ok, _ = self.health()
        lines.append(f"tally_tracker_healthy {int(ok)}")
        return "\n".join(lines) + "\n"


def _files(folder: Any, prefix: str = "") -> list[str]:
    out = []
    for entry in folder.iterdir():
        if entry.is_dir():
            out += _files(entry, f"{prefix}{entry.name}/")
        elif entry.name[entry.name.rfind("."):] in STATIC_TYPES:
            out.append(prefix + entry.name)
    return out


def _body(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(400, f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Problem(400, "the body must be a JSON object")
    return doc


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def make_handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "tally-tracker"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._answer("DELETE")

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            body = b""
            length = self.headers.get("Content-Length")
            if length and length.isdigit() and int(length) <= MAX_BODY:
                body = self.rfile.read(int(length))
            elif length and (not length.isdigit() or int(length) > MAX_BODY):
                self.close_connection = True
                self._send(413, {"Content-Type": "application/problem+json"}, _json(
                    {"type": "about:blank", "title": f"bodies are at most {MAX_BODY} bytes", "status": 413}))
                return
            try:
                params = parse_qs(url.query, keep_blank_values=False, strict_parsing=False, max_num_fields=200)
            except ValueError as exc:
                status, headers, body = 400, {"Content-Type": "application/problem+json"}, _json(
                    {"type": "about:blank", "title": str(exc), "status": 400})
            else:
                try:
                    status, headers, body = api.handle(url.path, params, method, body,
                                                       self.headers.get("Authorization"))
                except Exception:  # a bug must answer 500 and be logged, not kill the thread silently
                    log.exception("%s %s failed", method, self.path[:200])
                    status, headers, body = 500, {"Content-Type": "application/problem+json"}, _json(
                        {"type": "about:blank", "title": "internal error (logged)", "status": 500})
            self._send(status, headers, body)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

    return Handler


def serve(api: Api, listen: str) -> ThreadingHTTPServer:
    host, port = parse_listen(listen)
    server_class = ThreadingHTTPServer
    if ":" in host:  # an IPv6 address ([::1]:8080)
        server_class = type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), make_handler(api))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="tracker-http", daemon=True).start()
    return server
