"""The tracker's HTTP interface over a real socket, on SQLite and on a private PostgreSQL: EPCIS queries
valid against GS1's schema with Link paging, tracking through containment and vehicle cargo, recall,
gaps, health, metrics, and an OpenAPI document listing every route."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from gateway.broker import free_port
from gateway.decode.checksums import gs1_mod10
from tests.helpers.tracker import READ_POINT, aggregation, object_event, store_url
from tracker.http import ROUTES, Api, serve
from tracker.identifiers import resolve
from tracker.store import Message, Store, event_messages

T0 = 1_767_000_000.0  # 2025-12-29
GTIN = "10614141073464"
LOT = "L7"
UNITS = [f"urn:epc:id:sgtin:0614141.107346.{n}" for n in (1, 2, 3)]
LOT_CLASS = "urn:epc:class:lgtin:0614141.107346.L7"
VAN_POINT = "urn:epc:id:sgln:0614141.00007.0"


def sscc(ref: str) -> str:
    digits = "10614141" + ref.zfill(9)
    return digits + str(gs1_mod10(digits))


CARTON, PALLET = sscc("1"), sscc("2")
CARTON_URI, PALLET_URI = resolve(CARTON).identifier, resolve(PALLET).identifier
PARCEL = "1Z5R89390357567127"
PARCEL_URI = "urn:tally:shipment:ups:1Z5R89390357567127"


def scenario() -> list[Message]:
    dock = []
    for n, unit in enumerate(UNITS, 1):
        event = object_event(n, [unit], gateway="dock-1", wall=T0 + n)
        event["tally:raw"] = f"]d201{GTIN}10{LOT}\x1d21{n}"
        dock.append(event)
    dock.append(object_event(4, classes=[(LOT_CLASS, 5)], gateway="dock-1", wall=T0 + 4))
    dock.append(aggregation(5, CARTON_URI, UNITS, gateway="dock-1", wall=T0 + 10))
    dock.append(aggregation(6, CARTON_URI, [UNITS[2]], gateway="dock-1", wall=T0 + 11, action="DELETE"))
    dock.append(aggregation(7, PALLET_URI, [CARTON_URI], gateway="dock-1", wall=T0 + 20))
    dock.append(object_event(9, [PALLET_URI], gateway="dock-1", wall=T0 + 25, biz_step="shipping"))  # 8 is lost
    van = [object_event(1, [PALLET_URI], gateway="van-7", wall=T0 + 30, biz_step="loading", read_point=VAN_POINT,
                        biz_location=None),
           object_event(2, [PARCEL_URI], gateway="van-7", wall=T0 + 31, biz_step="loading", read_point=VAN_POINT,
                        biz_location=None)]
    position = {"lat": 52.37, "lon": 4.89, "device": "gps", "time": "2025-12-29T09:21:00Z"}
    return (event_messages("tally", "dock-1", dock) + event_messages("tally", "van-7", van)
            + [Message("tally/van-7/positions", json.dumps(position).encode()),
               Message("tally/van-7/status", b'{"state": "online", "gateway": "van-7"}'),
               Message("tally/dock-1/status", b'{"state": "offline", "reason": "lost"}')])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, tmp_path_factory):
    store = Store(store_url(request.param, tmp_path_factory.mktemp("api"))).open()
    assert "invalid" not in store.ingest(scenario())
    port = free_port()
    server = serve(Api(store), f"127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    store.close()


def get(base: str, path: str) -> tuple[int, dict, object]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, headers, body = err.code, dict(err.headers), err.read()
    is_json = headers.get("Content-Type", "").startswith("application/")
    return status, headers, json.loads(body) if is_json else body.decode()


def event_list(document: dict) -> list[dict]:
    return document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def query(api, assert_epcis, params: str) -> list[dict]:
    status, _, document = get(api, "/events?" + params)
    assert status == 200, document
    assert_epcis(document)
    return event_list(document)


def test_queries_answer_valid_query_documents(api, assert_epcis):
    assert len(query(api, assert_epcis, "perPage=100")) == 10
    assert len(query(api, assert_epcis, "eventType=AggregationEvent")) == 3
    assert len(query(api, assert_epcis, "eventType=AggregationEvent|ObjectEvent&perPage=100")) == 10
    assert len(query(api, assert_epcis, "EQ_bizStep=loading")) == 2
    assert len(query(api, assert_epcis, "EQ_bizStep=" + quote("https://ref.gs1.org/cbv/BizStep-loading"))) == 2
    assert len(query(api, assert_epcis, "EQ_disposition=in_progress&perPage=100")) == 10
    assert len(query(api, assert_epcis, f"EQ_readPoint={quote(VAN_POINT)}")) == 2
    assert len(query(api, assert_epcis, f"EQ_bizLocation={quote('urn:epc:id:sgln:0614141.07346.0')}&perPage=50")) == 8
    assert len(query(api, assert_epcis, f"MATCH_epc={quote(UNITS[0])}")) == 2  # its read + the carton's ADD
    assert len(query(api, assert_epcis, f"MATCH_anyEPC={quote(CARTON_URI)}")) == 3
    assert len(query(api, assert_epcis, f"MATCH_parentID={quote(PALLET_URI)}")) == 1
    assert len(query(api, assert_epcis, f"MATCH_epcClass={quote(LOT_CLASS)}")) == 1
    assert len(query(api, assert_epcis, f"MATCH_anyEPCClass={quote(LOT_CLASS)}")) == 1
    assert len(query(api, assert_epcis, "MATCH_epc=" + quote("urn:epc:idpat:sgtin:0614141.107346.*"))) == 5
    times = "GE_eventTime=2025-12-29T09:20:10Z&LT_eventTime=" + quote("2025-12-29T10:20:25+01:00")
    assert len(query(api, assert_epcis, times)) == 3
    assert len(query(api, assert_epcis, "GE_recordTime=2000-01-01T00:00:00Z&perPage=100")) == 10
    [first] = query(api, assert_epcis, "eventCountLimit=1&orderBy=eventTime&orderDirection=ASC")
    assert first["epcList"] == [UNITS[0]] and first["recordTime"].endswith("Z")
    assert len(query(api, assert_epcis, f"EQ_eventID={quote(first['eventID'])}")) == 1
    newest = query(api, assert_epcis, "perPage=2")
    assert newest[0]["eventTime"] > newest[1]["eventTime"]  # DESC unless asked otherwise


def test_paging_follows_the_link_header(api, assert_epcis):
    seen, path, pages = [], "/events?perPage=4&orderDirection=ASC&orderBy=recordTime", 0
    while path:
        status, headers, document = get(api, path)
        assert status == 200
        assert_epcis(document)
        seen += [e["eventID"] for e in event_list(document)]
        pages += 1
        match = re.match(r'<([^>]+)>; rel="next"', headers.get("Link", ""))
        path = match.group(1) if match else None
    assert pages == 3 and len(seen) == len(set(seen)) == 10
    status, headers, document = get(api, "/events?perPage=2&eventCountLimit=3")
    status, headers, document = get(api, re.match(r"<([^>]+)>", headers["Link"]).group(1))
    assert len(event_list(document)) == 1 and "Link" not in headers


@pytest.mark.parametrize("params", ["eventType=Nope", "GE_eventTime=yesterday", "orderBy=bizStep", "perPage=0",
                                    "nextPageToken=garbage", "EQ_colour=red", "eventCountLimit=x"])
def test_bad_parameters_are_query_parameter_exceptions(api, params):
    status, headers, problem = get(api, "/events?" + params)
    assert status == 400 and problem["type"] == "epcisException:QueryParameterException"
    assert headers["Content-Type"] == "application/problem+json"


def test_one_event_and_an_epcs_events(api, assert_epcis):
    [event] = query(api, assert_epcis, "eventCountLimit=1")
    status, _, one = get(api, "/events/" + quote(event["eventID"], safe=""))
    assert status == 200 and one["eventID"] == event["eventID"] and one["@context"]
    assert get(api, "/events/urn:uuid:00000000-0000-0000-0000-000000000000")[0] == 404
    status, _, document = get(api, f"/epcs/{quote(CARTON_URI, safe='')}/events")
    assert status == 200 and len(event_list(document)) == 3
    assert_epcis(document)


def test_track_a_unit_through_carton_pallet_and_van(api):
    status, _, answer = get(api, "/track/" + quote(f"(01){GTIN}(21)1", safe=""))
    assert status == 200, answer
    assert answer["identifier"] == UNITS[0] and answer["kind"] == "unit"
    assert [(link["identifier"], link["kind"]) for link in answer["chain"]] == [
        (UNITS[0], "unit"), (CARTON_URI, "logistic_unit"), (PALLET_URI, "logistic_unit"),
        ("urn:tally:vehicle:van-7", "vehicle")]
    assert [e["type"] for e in answer["history"]] == ["ObjectEvent", "AggregationEvent"]
    assert answer["latest"]["type"] == "AggregationEvent"
    assert answer["where"]["vehicle"] == "van-7"
    assert answer["where"]["position"]["lat"] == 52.37
    assert answer["where"]["readPoint"] == READ_POINT


def test_track_removed_units_parcels_and_pallets(api):
    status, _, answer = get(api, "/track/" + quote(UNITS[2], safe=""))
    assert [link["kind"] for link in answer["chain"]] == ["unit"]  # taken out of the carton again
    status, _, answer = get(api, f"/track/{PARCEL}")
    assert status == 200 and answer["kind"] == "shipment"
    assert [link["identifier"] for link in answer["chain"]] == [PARCEL_URI, "urn:tally:vehicle:van-7"]
    status, _, answer = get(api, f"/track/{quote('https://id.gs1.org/00/' + PALLET, safe='')}")
    assert status == 200 and answer["identifier"] == PALLET_URI and len(answer["history"]) == 3
    assert answer["latest"]["bizStep"] == "loading"
    assert get(api, "/track/" + quote("<script>alert(1)</script>", safe=""))[0] == 400
    assert get(api, "/track/1Z999AA10123456784")[0] == 404
    assert get(api, "/track/" + quote("urn:tally:vehicle:van-7", safe=""))[0] == 404  # was a 500


def test_recall_finds_units_cases_pallets_and_vehicles(api):
    status, _, answer = get(api, f"/recall?gtin={GTIN}&lot={LOT}")
    assert status == 200, answer
    found = {item["identifier"]: item for item in answer["items"]}
    assert set(found) == {*UNITS, LOT_CLASS, CARTON_URI, PALLET_URI, "urn:tally:vehicle:van-7"}
    assert found[PALLET_URI]["last"]["bizStep"] == "loading"
    assert found["urn:tally:vehicle:van-7"]["last"]["position"]["lon"] == 4.89
    assert get(api, "/recall?gtin=123&lot=L7")[0] == 400
    assert get(api, f"/recall?gtin={GTIN}")[0] == 400


def test_gaps_health_metrics(api):
    status, _, body = get(api, "/gaps")
    gateways = {g["gateway"]: g for g in body["gateways"]}
    assert [(g["first"], g["last"], g["missing"]) for g in gateways["dock-1"]["openGaps"]] == [(8, 8, 1)]
    assert gateways["dock-1"]["state"] == "offline" and gateways["van-7"]["state"] == "online"
    assert get(api, "/healthz")[0] == 200
    status, _, text = get(api, "/metrics")
    assert status == 200 and "tally_tracker_healthy 1" in text


def test_every_route_is_in_the_openapi_document(api):
    from openapi_spec_validator import validate

    status, _, document = get(api, "/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    validate(document)
    assert set(document["paths"]) == set(ROUTES)
    samples = {"{eventID}": "x", "{epc}": quote(UNITS[0], safe=""), "{identifier}": PARCEL, "{queryName}": "arrived",
               "{subscriptionID}": "1", "{file}": "app.js"}
    for route in ROUTES:
        path = route
        for key, value in samples.items():
            path = path.replace(key, value)
        status, _, body = get(api, path + ("?gtin=10614141073464&lot=L7" if route == "/recall" else ""))
        assert not (status == 404 and "no such resource" in str(body)), route


def test_track_and_recall_commands(tmp_path, capsys):
    from gateway.cli import main

    url = f"sqlite:{tmp_path / 'tracker.sqlite3'}"
    store = Store(url).open()
    store.ingest(scenario())
    store.close()
    assert main(["track", "--store", url, PARCEL]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["identifier"] == PARCEL_URI and answer["chain"][-1]["gateway"] == "van-7"
    assert main(["recall", "--store", url, "--gtin", GTIN, "--lot", LOT]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 7
    assert main(["track", "--store", url, "1Z999AA10123456784"]) == 1
    assert main(["track", "--store", url, "not a thing"]) == 2
    assert main(["recall", "--store", url, "--gtin", "1", "--lot", "x"]) == 2


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_delete_naming_no_children_empties_the_parent(engine, tmp_path):
    from tracker import track

    store = Store(store_url(engine, tmp_path)).open()
    try:
        store.ingest(event_messages("tally", "gw", [
            aggregation(1, CARTON_URI, [UNITS[0]], wall=T0),
            aggregation(2, PALLET_URI, [CARTON_URI], wall=T0 + 1),
            aggregation(3, PALLET_URI, [], wall=T0 + 2, action="DELETE")]))
        with store.db.reading() as cur:
            links = track.chain(cur, resolve(UNITS[0]))
        assert [link["identifier"] for link in links] == [UNITS[0], CARTON_URI]
    finally:
        store.close()
