// http/admin_page.cpp — the admin page's text and its headers. Data reaches the DOM only
// through textContent (never innerHTML), so an address or an SMTP reply cannot inject markup;
// the CSP nonce (CSP Level 3, 6.7.2.3) lets this page's one <style> and <script> run and
// nothing else: no other script, no style attribute, no request to another origin.
#include "http/admin_page.hpp"

#include <random>
#include <string>
#include <string_view>

#include "base/ascii.hpp"

namespace ringmail::http {
namespace {

constexpr std::string_view kNonceMark = "@NONCE@";

// XXX: the list is read whole at every refresh (the queue API has no counts and no pages
// yet), so a queue of many thousands of messages makes each refresh a large answer; the
// page draws at most 500 rows of it.
constexpr std::string_view kPage = R"page(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ringmail queue</title>
<style nonce="@NONCE@">
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
.muted { color: #666; }
#counts { display: flex; gap: 1em; margin: 1em 0; }
.count { border: 1px solid #ccc; border-radius: 6px; padding: .4em 1em; min-width: 6em; }
.count b { display: block; font-size: 1.6em; }
.count.queued b { color: #a60; } .count.sent b { color: #070; } .count.error b { color: #b00; }
#controls, #auth { display: flex; gap: .6em; align-items: center; margin: .6em 0; flex-wrap: wrap; }
#notice { min-height: 1.4em; }
#notice.bad { color: #b00; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #eee; vertical-align: top; }
tr.msg { cursor: pointer; }
tr.msg:hover { background: #f6f6f6; }
tr.detail > td { background: #fafafa; padding: .5em 1.5em; }
td.id { font-family: monospace; }
.st-queued { color: #a60; } .st-sent { color: #070; } .st-error { color: #b00; }
button { cursor: pointer; }
</style>
</head>
<body>
<h1>ringmail queue</h1>
<p class="muted" id="live">Live: the queue is read again every 5 seconds. <span id="updated"></span></p>
<form id="auth">
  <label for="token">API token</label>
  <input id="token" type="password" autocomplete="off" size="30" placeholder="only if [http] token is set">
  <button id="token-save" type="submit">Use token</button>
  <button id="token-forget" type="button">Forget</button>
  <span class="muted">Kept in this tab only (sessionStorage), sent as Authorization: Bearer.</span>
</form>
<div id="counts">
  <div class="count queued">queued<b id="count-queued">-</b></div>
  <div class="count sent">sent<b id="count-sent">-</b></div>
  <div class="count error">error<b id="count-error">-</b></div>
</div>
<div id="controls">
  <label for="status-filter">Status</label>
  <select id="status-filter">
    <option value="">all</option><option value="queued">queued</option>
    <option value="sent">sent</option><option value="error">error</option>
  </select>
  <label for="text-filter">Search</label>
  <input id="text-filter" type="search" size="30" placeholder="sender, recipient or id">
  <span class="muted" id="shown"></span>
</div>
<p id="notice" role="status"></p>
<table>
  <thead><tr><th>ID</th><th>Status</th><th>Priority</th><th>From</th><th>Recipients (pending)</th>
  <th>Created</th><th>Next attempt</th><th></th></tr></thead>
  <tbody id="messages"></tbody>
</table>
<script nonce="@NONCE@">
"use strict";
const REFRESH_MS = 5000, MAX_ROWS = 500, LOOKUPS_PER_REFRESH = 100;
const $ = (id) => document.getElementById(id);
let messages = [];            // the last GET /api/queue
const details = new Map();    // id -> the last GET /api/queue/ID
const open = new Set();       // ids whose recipients are shown
let busy = false, again = false;  // one read at a time; a call meanwhile asks for one more

function el(tag, text, cls) {  // text only ever goes in as textContent
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function notice(text, bad) {
  $("notice").textContent = text;
  $("notice").className = bad ? "bad" : "";
}

async function api(method, path) {
  const headers = {};
  const token = sessionStorage.getItem("ringmail-token");
  if (token) headers["Authorization"] = "Bearer " + token;
  const r = await fetch(path, {method, headers, cache: "no-store", credentials: "omit"});
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401) throw new Error("401: the server wants a token (paste it above)");
  if (!r.ok) throw new Error(r.status + ": " + (body && body.error ? body.error : r.statusText));
  return body;
}

function matches(m, text) {
  if (!text) return true;
  if (m.id.toLowerCase().includes(text) || m.from.toLowerCase().includes(text)) return true;
  const d = details.get(m.id);
  return !!d && d.recipients.some((r) => r.address.toLowerCase().includes(text));
}

async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    messages = await api("GET", "/api/queue");
    const text = $("text-filter").value.trim().toLowerCase();
    // A recipient search needs each message's addresses: fetched once per message, a few a turn.
    let lookups = 0;
    for (const m of messages) {
      if (lookups >= LOOKUPS_PER_REFRESH) break;
      if ((text && !details.has(m.id)) || open.has(m.id)) {
        try { details.set(m.id, await api("GET", "/api/queue/" + encodeURIComponent(m.id))); } catch (e) { }
        lookups++;
      }
    }
    render();
    $("updated").textContent = "Last read " + new Date().toLocaleTimeString() + ".";
    if ($("notice").className === "bad") notice("");
  } catch (e) {
    notice(e.message, true);
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

function render() {
  const counts = {queued: 0, sent: 0, error: 0};
  for (const m of messages) if (m.status in counts) counts[m.status]++;
  for (const s in counts) $("count-" + s).textContent = String(counts[s]);
  const want = $("status-filter").value, text = $("text-filter").value.trim().toLowerCase();
  const rows = messages.filter((m) => (!want || m.status === want) && matches(m, text));
  const tbody = $("messages");
  tbody.replaceChildren();
  for (const m of rows.slice(0, MAX_ROWS)) {
    const tr = el("tr", null, "msg");
    tr.dataset.id = m.id;
    tr.append(el("td", m.id, "id"), el("td", m.status, "status st-" + m.status), el("td", m.priority),
              el("td", m.from || "<>", "from"), el("td", m.recipients + " (" + m.pending + ")"),
              el("td", m.created), el("td", m.next_attempt || "-", "next"));
    const actions = el("td");
    const retry = el("button", "Retry", "retry"), remove = el("button", "Remove", "remove");
    retry.type = remove.type = "button";
    retry.addEventListener("click", (ev) => { ev.stopPropagation(); act("retry", m.id); });
    remove.addEventListener("click", (ev) => { ev.stopPropagation(); act("remove", m.id); });
    actions.append(retry, " ", remove);
    tr.append(actions);
    tr.addEventListener("click", () => toggle(m.id));
    tbody.append(tr);
    if (open.has(m.id)) tbody.append(detailRow(m.id));
  }
  $("shown").textContent = rows.length > MAX_ROWS ? "showing " + MAX_ROWS + " of " + rows.length
                                                  : rows.length + " shown";
}

function detailRow(id) {
  const tr = el("tr", null, "detail"), td = el("td");
  tr.dataset.id = id;
  td.colSpan = 8;
  const d = details.get(id);
  if (!d) {
    td.textContent = "loading...";
  } else {
    const t = el("table", null, "recipients"), head = el("tr");
    for (const h of ["Recipient", "Status", "Attempts", "Last reply", "Next attempt"]) head.append(el("th", h));
    t.append(head);
    for (const r of d.recipients) {
      const row = el("tr");
      row.append(el("td", r.address), el("td", r.status, "st-" + r.status), el("td", r.attempts),
                 el("td", r.last_reply === null ? "-" : r.last_reply), el("td", r.next_attempt || "-"));
      t.append(row);
    }
    td.append(t);
  }
  tr.append(td);
  return tr;
}

async function toggle(id) {
  if (open.has(id)) {
    open.delete(id);
    render();
    return;
  }
  open.add(id);
  render();
  try { details.set(id, await api("GET", "/api/queue/" + encodeURIComponent(id))); render(); }
  catch (e) { notice(e.message, true); }
}

async function act(what, id) {
  try {
    if (what === "remove") {
      if (!confirm("Remove message " + id + " from the queue?")) return;
      await api("DELETE", "/api/queue/" + encodeURIComponent(id));
      open.delete(id);
      details.delete(id);
      notice("Removed " + id + ".");
    } else {
      details.set(id, await api("POST", "/api/queue/" + encodeURIComponent(id) + "/retry"));
      notice("Retry: " + id + " is due now.");
    }
  } catch (e) {
    notice(e.message, true);
    return;
  }
  await refresh();
}

$("auth").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = $("token").value.trim();
  if (t) sessionStorage.setItem("ringmail-token", t); else sessionStorage.removeItem("ringmail-token");
  $("token").value = "";
  refresh();
});
$("token-forget").addEventListener("click", () => { sessionStorage.removeItem("ringmail-token"); refresh(); });
$("status-filter").addEventListener("change", render);
$("text-filter").addEventListener("input", () => { render(); refresh(); });
refresh();
setInterval(refresh, REFRESH_MS);
</script>
</body>
</html>
)page";

std::string fresh_nonce() {
    std::random_device random;  // libstdc++: getrandom(2) / /dev/urandom
    std::string bytes;
    for (int i = 0; i < 4; ++i) {
        const unsigned v = random();
        for (int b = 0; b < 4; ++b) bytes += static_cast<char>((v >> (8 * b)) & 0xff);
    }
    return base::hex_encode(bytes);  // hex digits are base64 characters, as CSP's nonce wants
}

}  // namespace

Response admin_page() {
    const std::string nonce = fresh_nonce();
    Response r;
    r.body.reserve(kPage.size() + 64);
    std::size_t at = 0;
    for (std::size_t mark; (mark = kPage.find(kNonceMark, at)) != std::string_view::npos; at = mark + kNonceMark.size())
        r.body.append(kPage.substr(at, mark - at)).append(nonce);
    r.body.append(kPage.substr(at));
    r.content_type = "text/html; charset=utf-8";
    r.headers = {
        {"Content-Security-Policy", "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce +
                                        "'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
                                        "frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-store"},
    };
    return r;
}

}  // namespace ringmail::http
