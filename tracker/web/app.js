// The tracker's page: tracking, recall and the fleet, from the tracker's own JSON API.
// Everything shown goes in through textContent, never innerHTML: identifiers and scans are hostile input.
"use strict";

const $ = (id) => document.getElementById(id);
const tiles = (document.querySelector('meta[name="tiles"]') || {}).content || "";
let map = null;
let overlay = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// A tracker with [tracker] token_file answers 401 without the token: the page asks for it once per tab
// (sessionStorage, never a cookie, so other sites cannot send it) or takes it from #token=…&… and drops it
// from the address at once.
const TOKEN_KEY = "tally-tracker-token";

function token() {
  try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
}

function keepToken(value) {
  try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: asked again next time */ }
}

async function getJSON(path) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, { headers });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  $("token-form").hidden = response.status !== 401;
  return { status: response.status, body };
}

function show(view) {
  for (const name of ["track", "recall", "fleet"]) $(name + "-view").hidden = name !== view;
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) tr.appendChild(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

function place(where) {
  if (!where) return "";
  return [where.readPoint, where.bizLocation].filter(Boolean).join(" · ");
}

function drawRoute(points) {
  const note = $("map-note");
  note.textContent = "";
  if (typeof L === "undefined") { note.textContent = "the map library did not load"; return; }
  if (!map) {
    map = L.map("map", { attributionControl: true });
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: "© OpenStreetMap contributors" }).addTo(map);
    }
  }
  if (overlay) overlay.remove();
  overlay = L.layerGroup().addTo(map);
  const latlngs = points.map((p) => [p.lat, p.lon]);
  if (!latlngs.length) {
    map.setView([0, 0], 1);
    note.textContent = "no positions known for this journey";
    return;
  }
  // Vector layers: the route is drawn even when no map tile can be loaded.
  L.polyline(latlngs, { className: "route", weight: 4 }).addTo(overlay);
  latlngs.forEach((ll, i) => {
    L.circleMarker(ll, { radius: i === latlngs.length - 1 ? 7 : 4, className: "stop" })
      .bindTooltip(String(points[i].time || "")).addTo(overlay);
  });
  if (latlngs.length === 1) map.setView(latlngs[0], 13);
  else map.fitBounds(L.latLngBounds(latlngs), { padding: [20, 20] });
}

async function track(identifier) {
  show("track");
  $("track-input").value = identifier;
  $("track-message").textContent = "";
  $("track-result").hidden = true;
  if (!identifier) return;
  const { status, body } = await getJSON("/track/" + encodeURIComponent(identifier));
  if (status !== 200) {
    $("track-message").textContent = (body && body.title) || ("error " + status);
    return;
  }
  $("track-result").hidden = false;
  $("track-kind").textContent = body.kind;
  $("track-identifier").textContent = body.identifier;
  const where = $("track-where");
  clear(where);
  const w = body.where || {};
  const facts = [["last seen", w.eventTime], ["doing", [w.bizStep, w.disposition].filter(Boolean).join(", ")],
    ["read point", w.readPoint], ["business location", w.bizLocation], ["gateway", w.gateway],
    ["vehicle", w.vehicle],
    ["position", w.position ? `${w.position.lat}, ${w.position.lon} (${w.position.time || "?"})` : null]];
  for (const [name, value] of facts) {
    if (value) where.appendChild(row([el("th", name), el("td", value)]));
  }
  const chain = $("track-chain");
  clear(chain);
  for (const link of body.chain) {
    const li = el("li");
    li.appendChild(el("span", link.kind, "badge"));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("code", link.identifier));
    if (link.since) li.appendChild(el("span", " since " + link.since, "when"));
    chain.appendChild(li);
  }
  const history = $("track-history");
  clear(history);
  for (const event of body.history.slice().reverse()) {
    const li = el("li");
    li.appendChild(el("span", event.eventTime, "when"));
    li.appendChild(el("span", [event.type, event.action, event.bizStep].filter(Boolean).join(" ")));
    const at = place({ readPoint: (event.readPoint || {}).id, bizLocation: (event.bizLocation || {}).id });
    if (at) li.appendChild(el("span", " at " + at));
    if (event["tally:gateway"]) li.appendChild(el("span", " (" + event["tally:gateway"] + ")", "when"));
    history.appendChild(li);
  }
  drawRoute(body.route || []);
}

async function recall(gtin, lot) {
  show("recall");
  $("recall-gtin").value = gtin;
  $("recall-lot").value = lot;
  $("recall-message").textContent = "";
  $("recall-table").hidden = true;
  if (!gtin || !lot) return;
  const { status, body } = await getJSON(`/recall?gtin=${encodeURIComponent(gtin)}&lot=${encodeURIComponent(lot)}`);
  if (status !== 200) {
    $("recall-message").textContent = (body && body.title) || ("error " + status);
    return;
  }
  const rows = $("recall-rows");
  clear(rows);
  $("recall-message").textContent = body.count ? "" : "nothing of this lot was seen";
  for (const item of body.items) {
    const last = item.last || {};
    const link = el("a", item.identifier);
    link.href = "#track=" + encodeURIComponent(item.identifier);
    const td = el("td");
    td.appendChild(link);
    rows.appendChild(row([td, item.kind, item.via, last.eventTime || "",
      place(last) || (last.position ? `${last.position.lat}, ${last.position.lon}` : last.gateway || "")]));
  }
  $("recall-table").hidden = false;
}

async function fleet() {
  show("fleet");
  const { status, body } = await getJSON("/gaps");
  const rows = $("fleet-rows");
  clear(rows);
  if (status !== 200) { $("fleet-message").textContent = "error " + status; return; }
  for (const gw of body.gateways) {
    const state = el("td");
    state.appendChild(el("span", gw.state, "badge " + (gw.state === "online" || gw.state === "offline" ? gw.state : "")));
    const backlog = gw.status && gw.status.backlog !== undefined ? JSON.stringify(gw.status.backlog) : "";
    const open = gw.openGaps.map((g) => `${g.first}–${g.last} (${g.missing} missing)`).join(", ");
    const tr = row([gw.gateway, state, gw.lastSeen || "", gw.events, backlog, open, gw.closedGaps.length]);
    tr.dataset.gateway = gw.gateway;
    rows.appendChild(tr);
  }
}

function route() {
  let hash = location.hash.slice(1);
  if (hash.startsWith("token=")) {
    const amp = hash.indexOf("&");
    let value = amp < 0 ? hash.slice(6) : hash.slice(6, amp);
    try { value = decodeURIComponent(value); } catch (e) { /* kept as given */ }
    keepToken(value);
    hash = amp < 0 ? "" : hash.slice(amp + 1);
    history.replaceState(null, "", location.pathname + location.search + (hash ? "#" + hash : ""));
  }
  const eq = hash.indexOf("=");
  const name = eq < 0 ? hash : hash.slice(0, eq);
  let value = eq < 0 ? "" : hash.slice(eq + 1);
  try { value = decodeURIComponent(value); } catch (e) { /* shown as typed */ }
  if (name === "recall") {
    const [gtin, lot] = value.split(",", 2);
    recall(gtin || "", lot || "");
  } else if (name === "fleet") {
    fleet();
  } else {
    track(value);
  }
}

$("track-form").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = "track=" + encodeURIComponent($("track-input").value.trim());
});
$("recall-form").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = "recall=" + encodeURIComponent($("recall-gtin").value.trim() + "," + $("recall-lot").value.trim());
});
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  keepToken($("token-input").value.trim());
  $("token-input").value = "";
  route();
});
window.addEventListener("hashchange", route);
route();
