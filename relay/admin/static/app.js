// The tickrelay admin dashboard: polls the admin API about once a second and
// renders what it returns. Every value that came from players (room codes,
// names, properties) is inserted as text, never as HTML.
"use strict";

const TOKEN_KEY = "tickrelay-admin-token";
const POLL_MS = 1000;
const BANS_EVERY_MS = 5000;
const WINDOW_MS = 5 * 60 * 1000;
const SERIES = [
  {key: "work", q: "p50_ms", label: "work p50", color: "#2563eb", width: 1},
  {key: "work", q: "p99_ms", label: "work p99", color: "#2563eb", width: 2},
  {key: "work", q: "max_ms", label: "work max", color: "#2563eb", width: 1, dash: [4, 3]},
  {key: "late", q: "p50_ms", label: "lateness p50", color: "#ea580c", width: 1},
  {key: "late", q: "p99_ms", label: "lateness p99", color: "#ea580c", width: 2},
  {key: "late", q: "max_ms", label: "lateness max", color: "#ea580c", width: 1, dash: [4, 3]},
];

const $ = id => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY) || "";
let samples = [];          // {t, work, late}: the chart's history
let prevOverview = null;   // for byte rates
let pollTimer = 0;
let polling = false;
let roomsGen = 0;          // bumped by actions: a poll started before one must not redraw the rooms
let bansAt = 0;
let tickPeriodMs = 0;

class AuthError extends Error {}

async function api(method, path, body) {
  const init = {method, headers: {"Authorization": "Bearer " + token}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch("/api/v1/" + path, init);
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON: use the status */ }
  const msg = data && data.error ? data.error : res.status + " " + res.statusText;
  if (res.status === 401) throw new AuthError(msg);
  if (!res.ok) throw new Error(msg);
  return data;
}

// ---- formatting

const fmtInt = n => Number(n || 0).toLocaleString("en-US");
const fmtMs = ms => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) + " ms";

function fmtRate(bytesPerSec) {
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let v = bytesPerSec, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
}

function fmtDuration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor(s % 86400 / 3600) + " h";
}

const fmtTime = iso => new Date(iso).toLocaleString("en-GB", {dateStyle: "short", timeStyle: "medium"});

// el builds an element with text content and attributes; children may be
// elements or strings (always inserted as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (k === "onclick") e.addEventListener("click", v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// The status line shows the outcome of the operator's last action until the
// next one. A failed poll shows there too, and the next good poll clears
// only that message, never an action's outcome.
let pollFailed = false;

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!isError);
  pollFailed = false;
}

// ---- signing in and out

function showLogin(message) {
  clearTimeout(pollTimer);
  polling = false;
  $("app").hidden = true;
  $("login").hidden = false;
  $("sign-out").hidden = true;
  $("login-error").textContent = message || "";
  $("token").focus();
}

function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  if (!polling) {
    polling = true;
    poll();
  }
}

$("login-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  token = $("token").value.trim();
  try {
    await api("GET", "overview");
  } catch (e) {
    showLogin(e instanceof AuthError ? "That token was refused." : e.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  showApp();
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  token = "";
  showLogin("");
});

// ---- polling

async function poll() {
  if (!polling) return;
  const gen = roomsGen;
  try {
    const [overview, rooms] = await Promise.all([api("GET", "overview"), api("GET", roomsPath())]);
    renderOverview(overview);
    if (gen === roomsGen) renderRooms(rooms.rooms);
    if (Date.now() - bansAt > BANS_EVERY_MS) await refreshBans();
    if (pollFailed) setStatus("");
  } catch (e) {
    if (e instanceof AuthError) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("The token was refused.");
      return;
    }
    setStatus(e.message, true);
    pollFailed = true;
  }
  if (polling) pollTimer = setTimeout(poll, POLL_MS);
}

function roomsPath() {
  const q = $("room-search").value.trim();
  return "rooms?limit=100" + (q ? "&q=" + encodeURIComponent(q) : "");
}

async function refreshRooms() {
  const gen = ++roomsGen;
  const rooms = await api("GET", roomsPath());
  if (gen === roomsGen) renderRooms(rooms.rooms);
}

let searchTimer = 0;
$("room-search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => refreshRooms().catch(e => setStatus(e.message, true)), 200);
});

// ---- the overview

function renderOverview(o) {
  $("version").textContent = o.version || "";
  $("uptime").textContent = fmtDuration(o.uptime_ms);
  $("tick-rate").textContent = o.tick_rate;
  tickPeriodMs = o.tick_rate > 0 ? 1000 / o.tick_rate : 0;

  $("ccu").textContent = fmtInt(o.players);
  $("rooms-count").textContent = fmtInt(o.rooms);
  $("players-kcp").textContent = fmtInt(o.players_by_transport.kcp);
  $("players-ws").textContent = fmtInt(o.players_by_transport.ws);
  $("work-p99").textContent = fmtMs(o.tick_work.p99_ms);
  $("late-p99").textContent = fmtMs(o.tick_lateness.p99_ms);
  $("overruns").textContent = fmtInt(o.overruns);

  const t = Date.parse(o.time);
  if (prevOverview) {
    const dt = (t - Date.parse(prevOverview.time)) / 1000;
    if (dt > 0) {
      $("rate-in").textContent = fmtRate(Math.max(0, o.bytes_in - prevOverview.bytes_in) / dt);
      $("rate-out").textContent = fmtRate(Math.max(0, o.bytes_out - prevOverview.bytes_out) / dt);
    }
  }
  prevOverview = o;

  const badge = $("drain-badge");
  badge.hidden = !o.draining;
  if (o.draining) badge.textContent = "Draining: clients told to leave at " + fmtTime(o.drain_deadline);

  renderReasons($("closes"), o.closes);
  renderReasons($("drops"), o.drops);

  samples.push({t, work: o.tick_work, late: o.tick_lateness});
  while (samples.length && samples[0].t < t - WINDOW_MS) samples.shift();
  drawTicks(t);
}

function renderReasons(table, counts) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const body = table.tBodies[0];
  body.replaceChildren(...rows.map(([reason, n]) =>
    el("tr", {"data-reason": reason}, el("td", {}, reason), el("td", {class: "num n"}, fmtInt(n)))));
  if (!rows.length) body.append(el("tr", {}, el("td", {class: "muted"}, "none")));
}

function drawTicks(now) {
  const series = SERIES.map(s => ({...s, points: samples.map(p => [p.t, p[s.key][s.q]])}));
  drawChart($("chart"), series, now - WINDOW_MS, now,
    {refValue: tickPeriodMs, refLabel: "tick period " + tickPeriodMs.toFixed(1) + " ms"});
}

function buildLegend() {
  $("legend").replaceChildren(...SERIES.map(s => {
    const swatch = el("span", {class: "swatch" + (s.dash ? " dashed" : "")});
    swatch.style.borderColor = s.color;
    swatch.style.borderTopWidth = s.width + "px";
    return el("span", {class: "key"}, swatch, s.label);
  }));
}

// ---- rooms

function renderRooms(rooms) {
  const body = $("rooms-table").tBodies[0];
  body.replaceChildren(...rooms.map(r => el("tr", {"data-room": r.id},
    el("td", {class: "num"}, r.id),
    el("td", {class: "code"}, r.code),
    el("td", {class: "mode"}, r.mode),
    el("td", {class: "num players"}, r.players + " / " + r.max_players),
    el("td", {class: "muted"}, [r.public ? "public" : "private", r.locked ? "locked" : ""].filter(Boolean).join(", ")),
    el("td", {class: "num"}, fmtDuration(r.age_ms)),
    el("td", {class: "actions"},
      el("button", {type: "button", class: "link details", onclick: () => openRoom(r.id)}, "Details"),
      el("button", {type: "button", class: "danger small close", onclick: () => closeRoom(r)}, "Close")))));
  $("rooms-empty").hidden = rooms.length > 0;
}

async function closeRoom(r) {
  const reason = await confirmAction("Close room " + r.code + "?",
    "Its " + r.players + " players are removed from the room and told the reason.", "closed by the operator", "Close room");
  if (reason === null) return;
  try {
    roomsGen++;
    await api("POST", "rooms/" + r.id + "/close", {reason});
    const row = document.querySelector('#rooms-table tr[data-room="' + r.id + '"]');
    if (row) row.remove();
    if ($("room-dialog").open) $("room-dialog").close();
    setStatus("Room " + r.code + " closed.");
    await refreshRooms();
  } catch (e) {
    setStatus(e.message, true);
  }
}

async function openRoom(id) {
  let d;
  try {
    d = await api("GET", "rooms/" + id);
  } catch (e) {
    setStatus(e.message, true);
    return;
  }
  $("room-title").textContent = "Room " + d.code + " (" + d.id + ")";
  $("room-info").textContent = [d.mode, d.players + " / " + d.max_players + " players",
    d.public ? "public" : "private", d.locked ? "locked" : "open", "master " + (d.master || "none"),
    "age " + fmtDuration(d.age_ms)].join(" · ");
  $("members-table").tBodies[0].replaceChildren(...d.members.map(m => el("tr", {"data-player": m.id},
    el("td", {class: "num"}, m.id),
    el("td", {}, m.name + (m.away ? " (away)" : "")),
    el("td", {}, m.user_id || ""),
    el("td", {}, m.transport),
    el("td", {}, m.remote),
    el("td", {class: "num"}, fmtMs(m.rtt_ms)),
    el("td", {class: "num"}, fmtInt(m.state_bytes) + " B"),
    el("td", {class: "num"}, fmtInt(m.bytes_in) + " / " + fmtInt(m.bytes_out)),
    el("td", {}, el("button", {type: "button", class: "danger small kick", onclick: () => kick(m, id)}, "Kick")))));
  $("room-props").textContent = JSON.stringify(d.props, null, 2);
  if (!$("room-dialog").open) $("room-dialog").showModal();
}

async function kick(m, roomId) {
  const reason = await confirmAction("Kick " + m.name + "?", "Their session is closed and they are told the reason.",
    "kicked by the operator", "Kick");
  if (reason === null) return;
  try {
    await api("POST", "players/" + m.id + "/kick", {reason});
    setStatus(m.name + " kicked.");
    await openRoom(roomId);
  } catch (e) {
    setStatus(e.message, true);
  }
}

$("room-dialog-close").addEventListener("click", () => $("room-dialog").close());

// confirmAction asks for confirmation (and a reason when reasonDefault is a
// string); it resolves to the reason, or null when cancelled.
function confirmAction(title, text, reasonDefault, okLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  $("confirm-reason-label").hidden = reasonDefault === null;
  $("confirm-reason").value = reasonDefault || "";
  return new Promise(resolve => {
    const done = value => {
      dialog.removeEventListener("close", onClose);
      resolve(value);
    };
    const onClose = () => done(dialog.returnValue === "ok" ? $("confirm-reason").value.trim() : null);
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
  });
}

$("confirm-ok").value = "ok";
$("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close(""));

// ---- announce, drain, bans

$("announce-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const text = $("announce-text").value.trim();
  try {
    await api("POST", "announce", {text});
    $("announce-text").value = "";
    setStatus("Announcement sent.");
  } catch (e) {
    setStatus(e.message, true);
  }
});

$("drain-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const minutes = $("drain-minutes").value;
  const ok = await confirmAction("Start a maintenance drain?",
    "No new sessions or rooms from now; in " + minutes + " minutes every client is told the server is closing.",
    null, "Start drain");
  if (ok === null) return;
  try {
    const r = await api("POST", "drain", {after: minutes + "m"});
    setStatus("Draining until " + fmtTime(r.deadline) + ".");
  } catch (e) {
    setStatus(e.message, true);
  }
});

const BAN_PLACEHOLDERS = {address: "203.0.113.7 or 203.0.113.0/24", user_id: "user id from auth", player_id: "player id"};
$("ban-kind").addEventListener("change", () => { $("ban-target").placeholder = BAN_PLACEHOLDERS[$("ban-kind").value]; });

$("ban-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const kind = $("ban-kind").value, target = $("ban-target").value.trim();
  const body = {reason: $("ban-reason").value.trim()};
  body[kind] = kind === "player_id" ? Number(target) : target;
  if ($("ban-duration").value) body.duration = $("ban-duration").value;
  try {
    const b = await api("POST", "bans", body);
    $("ban-target").value = "";
    $("ban-reason").value = "";
    setStatus("Ban " + b.id + " stored.");
    await refreshBans();
  } catch (e) {
    setStatus(e.message, true);
  }
});

async function refreshBans() {
  const r = await api("GET", "bans");
  bansAt = Date.now();
  $("bans-table").tBodies[0].replaceChildren(...r.bans.map(b => el("tr", {"data-ban": b.id},
    el("td", {}, b.address || (b.user_id ? "user " + b.user_id : "player " + b.player_id)),
    el("td", {class: "muted"}, b.until ? "until " + fmtTime(b.until) : "for good"),
    el("td", {}, b.reason),
    el("td", {}, el("button", {type: "button", class: "link", onclick: () => unban(b)}, "Unban")))));
  $("bans-empty").hidden = r.bans.length > 0;
}

async function unban(b) {
  try {
    await api("DELETE", "bans/" + encodeURIComponent(b.id));
    setStatus("Ban " + b.id + " lifted.");
    await refreshBans();
  } catch (e) {
    setStatus(e.message, true);
  }
}

// ---- start

buildLegend();
window.addEventListener("resize", () => { if (samples.length) drawTicks(samples[samples.length - 1].t); });
if (token) showApp(); else showLogin("");
