// The status page: /status.json every 2 s, rendered as text only.
// Scan content can be anything a label says (HTML, script, control characters), so data reaches the
// page only through textContent and createElement, never innerHTML; the server's CSP backs this up.
"use strict";

const REFRESH_MS = 2000;

function $(id) { return document.getElementById(id); }

function setText(id, value) {
  $(id).textContent = value === null || value === undefined || value === "" ? "-" : String(value);
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (cls) td.className = cls;
  return td;
}

function ago(t) {
  if (!t) return "never";
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 120) return Math.round(s) + "s ago";
  if (s < 7200) return Math.round(s / 60) + "min ago";
  return (s / 3600).toFixed(1) + "h ago";
}

function duration(s) {
  if (s === null || s === undefined) return "-";
  if (s < 120) return Math.round(s) + "s";
  if (s < 7200) return Math.round(s / 60) + "min";
  return (s / 3600).toFixed(1) + "h";
}

function clock(t) {
  return t ? new Date(t * 1000).toLocaleTimeString() : "-";
}

function badge(id, text, good) {
  const el = $(id);
  el.textContent = text || "-";
  el.className = "badge " + (good ? "good" : "bad");
}

function replaceRows(tbody, rows) {
  while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
  for (const row of rows) tbody.appendChild(row);
}

function render(s) {
  setText("gateway", s.gateway);
  badge("state", s.state, s.state === "running");
  setText("version", s.version);
  setText("uptime", duration(s.uptime_s));
  setText("updated", new Date().toLocaleTimeString());
  $("problem").hidden = true;

  const b = s.broker || {};
  badge("broker-state", b.state, b.state === "connected");
  setText("broker-name", b.broker);
  setText("broker-since", ago(b.since));
  $("broker-error").textContent = b.error || "";
  setText("broker-published", b.published);
  setText("broker-acked", b.acked);
  setText("broker-in-flight", b.in_flight);
  setText("broker-connects", b.connects);

  const q = s.backlog || {};
  setText("backlog-events", q.events);
  setText("backlog-positions", q.positions);
  setText("backlog-rejects", q.rejects);
  setText("backlog-oldest", q.oldest_age_s === null || q.oldest_age_s === undefined ? "-" : duration(q.oldest_age_s));
  setText("backlog-disk", q.budget_bytes
    ? (q.bytes / 1e6).toFixed(1) + " of " + (q.budget_bytes / 1e6).toFixed(0) + " MB" : "-");
  const drops = Object.entries(s.drops || {}).filter(([, n]) => n);
  $("drops").textContent = drops.length ? drops.map(([k, n]) => k + " " + n).join(", ") : "none";
  $("drops").className = drops.length ? "error" : "";

  const modes = s.modes || {};
  const devices = (s.devices || []).map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.device = d.name;
    const mode = modes[d.name];
    tr.append(cell(d.name), cell(d.driver), cell(d.where), cell(d.state, d.state === "open" ? "good" : "bad"),
      cell(ago(d.since)), cell(d.reads, "number"), cell(ago(d.last_read)),
      cell(mode ? [mode.biz_step, mode.disposition].filter(Boolean).join(" / ") : "as configured"));
    if (d.error) tr.title = d.error;
    return tr;
  });
  replaceRows($("devices").tBodies[0], devices);

  const recent = [];
  for (const [device, reads] of Object.entries(s.recent || {})) {
    for (const r of reads) recent.push(Object.assign({ device }, r));
  }
  recent.sort((a, b) => b.time - a.time);
  replaceRows($("recent").tBodies[0], recent.slice(0, 20).map((r) => {
    const tr = document.createElement("tr");
    tr.append(cell(clock(r.time)), cell(r.device), cell(r.text, "scan"), cell(r.outcome));
    return tr;
  }));

  const e = s.last_event;
  $("last-event").textContent = e ? e.type + " from " + e.device + " at " + e.time + " (" + e.eventID + ")" : "none";
  $("counters").textContent = Object.entries(s.counters || {}).map(([k, n]) => k + " " + n).join(", ") || "-";
  $("gps").textContent = gpsText(s.gps);
  $("manifest").textContent = manifestText(s.manifest);
  $("feedback").textContent = ((s.feedback || {}).channels || []).map((c) =>
    c.channel + " " + c.sent + " sent" + (c.failed ? ", " + c.failed + " FAILED" : "") +
    (c.dropped ? ", " + c.dropped + " dropped" : "") + (c.error ? " (" + c.error + ")" : "")).join("; ") || "-";
}

function manifestText(m) {
  const a = m && m.active;
  if (!a) return "no manifest" + (m && m.reports_waiting ? " (" + m.reports_waiting + " reports waiting for the broker)" : "");
  return a.name + ": " + a.seen + " of " + a.expected + (a.complete ? ", COMPLETE" : "") +
    (a.extra ? ", " + a.extra + " not on it" : "") + (a.expires ? ", expires " + a.expires : "");
}

function gpsText(g) {
  if (!g) return "no GPS on this gateway";
  const f = g.fix;
  if (!f) return "no fix yet";
  const mode = { 2: "2D", 3: "3D" }[f.mode] || "no fix";
  return Number(f.lat).toFixed(6) + ", " + Number(f.lon).toFixed(6) + " (" + mode + ", fix " +
    duration(f.age_s) + " old" + (f.stale ? ", STALE" : "") + ")" + (f.time ? " at " + f.time : "");
}

async function refresh() {
  try {
    const response = await fetch("/status.json", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (err) {
    const p = $("problem");
    p.textContent = "cannot reach the gateway: " + err.message;
    p.hidden = false;
    badge("state", "unreachable", false);
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
