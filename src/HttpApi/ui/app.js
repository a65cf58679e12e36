// The status page: polls the API of the node that served it, once a second. No build step, no dependencies.
"use strict";

const state = { lockspace: null, resource: null, sessions: new Map(), polledAt: 0 };
const $ = (selector) => document.querySelector(selector);
const tokenKey = "raftdlm.token";

async function api(path, base = "") {
  const headers = {};
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(base + path, { headers, cache: "no-store" });
  if (response.status === 401) {
    $("#token-form").hidden = false;
    throw new ApiError(401, "a bearer token is needed");
  }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body?.detail ?? response.statusText);
  return body;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function text(value) { return value === null || value === undefined ? "-" : String(value); }

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = text(cell);
      tr.append(td);
    }
    return tr;
  }));
}

function note(selector, error) {
  $(selector).textContent = !error ? "" : error.status === 403 ? "Not permitted with this token." : "Unavailable: " + error.message;
}

function hex(base64) {
  if (!base64) return "-";
  return Array.from(atob(base64), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

async function pollCluster() {
  const view = await api("/v1/cluster");
  $("[data-testid=serving-node]").textContent = view.nodeId;
  $("[data-testid=leader]").textContent = view.leaderId ?? "none";
  $("[data-testid=term]").textContent = view.term;
  const rows = await Promise.all(view.members.map(async (member) => {
    const self = member.id === view.nodeId;
    let own = null, ready = "unreachable";
    try {
      own = self ? view : await api("/v1/cluster?stale=true", member.httpEndpoint);
      ready = (await fetch(member.httpEndpoint + "/readyz", { cache: "no-store" })).ok ? "ready" : "not ready";
    } catch { own = null; }
    const role = member.id === view.leaderId ? "leader" : own ? "follower" : member.status;
    const roleCell = document.createElement("span");
    roleCell.textContent = role;
    roleCell.className = "role-" + role;
    const health = document.createElement("span");
    health.textContent = ready;
    health.className = ready === "ready" ? "" : "health-down";
    return [member.id, roleCell, own?.term, own?.commitIndex, own?.appliedIndex, health, member.httpEndpoint];
  }));
  fill($("[data-testid=members] tbody"), rows);
}

async function pollLockspaces() {
  try {
    const { lockspaces } = await api("/v1/lockspaces");
    if (!state.lockspace && lockspaces.length) state.lockspace = lockspaces[0].name;
    $("#lockspaces").replaceChildren(...lockspaces.map((space) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${space.name} (${space.resources})`;
      button.dataset.lockspace = space.name;
      button.setAttribute("aria-pressed", String(space.name === state.lockspace));
      button.onclick = () => { state.lockspace = space.name; state.resource = null; refresh(); };
      li.append(button);
      return li;
    }));
    note("[data-testid=lockspaces-note]", null);
  } catch (error) { note("[data-testid=lockspaces-note]", error); }
}

async function pollResources() {
  const ls = state.lockspace;
  $("[data-testid=current-lockspace]").textContent = ls ?? "—";
  if (!ls) return;
  try {
    const { resources } = await api(`/v1/lockspaces/${encodeURIComponent(ls)}/resources?limit=200`);
    if (!state.resource && resources.length) state.resource = resources[0].resource;
    fill($("[data-testid=resources] tbody"), resources.map((r) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = r.resource;
      button.dataset.resource = r.resource;
      button.onclick = () => { state.resource = r.resource; refresh(); };
      return [button, r.granted, r.converting, r.waiting, r.lvbSeq, r.lvbValid ? "valid" : "invalid"];
    }));
    note("[data-testid=resources-note]", null);
  } catch (error) { note("[data-testid=resources-note]", error); }
}

async function pollQueues() {
  const ls = state.lockspace, name = state.resource;
  $("[data-testid=current-resource]").textContent = name ?? "—";
  if (!ls || !name) { fill($("[data-testid=queues] tbody"), []); return; }
  try {
    const r = await api(`/v1/lockspaces/${encodeURIComponent(ls)}/resources/${encodeURIComponent(name)}`);
    $("[data-testid=lvb]").textContent = hex(r.lvb);
    $("[data-testid=lvb-seq]").textContent = r.lvbSeq;
    $("[data-testid=lvb-valid]").textContent = r.lvbValid ? "valid" : "invalid";
    const rows = [];
    for (const [queue, locks] of [["granted", r.granted], ["converting", r.converting], ["waiting", r.waiting]]) {
      for (const l of locks) rows.push([queue, l.lockId, l.sessionId ?? "(orphan)", l.mode, l.requestedMode, l.fencingToken]);
    }
    fill($("[data-testid=queues] tbody"), rows);
  } catch (error) {
    if (error.status === 404) { state.resource = null; fill($("[data-testid=queues] tbody"), []); } else throw error;
  }
}

async function pollWaitFor() {
  const ls = state.lockspace;
  $("[data-testid=waitfor-lockspace]").textContent = ls ?? "—";
  const svg = $("#waitfor");
  if (!ls) { svg.replaceChildren(); return; }
  try {
    const { edges, truncated } = await api(`/v1/lockspaces/${encodeURIComponent(ls)}/waitfor`);
    drawGraph(svg, edges);
    $("[data-testid=waitfor-note]").textContent = edges.length === 0 ? "Nobody waits." : truncated ? "Only the first 10,000 edges are shown." : "";
  } catch (error) { note("[data-testid=waitfor-note]", error); }
}

// Sessions on a circle; one arrow per edge, from the waiting session to the one it waits for.
function drawGraph(svg, edges) {
  const ns = "http://www.w3.org/2000/svg";
  const ids = [...new Set(edges.flatMap((e) => [e.waiterSessionId ?? "orphan", e.holderSessionId ?? "orphan"]))].sort();
  const [cx, cy, radius] = [320, 180, Math.min(150, 100 + ids.length * 8)];
  const at = new Map(ids.map((id, i) => [id, [cx + radius * Math.cos(2 * Math.PI * i / ids.length), cy + radius * Math.sin(2 * Math.PI * i / ids.length)]]));
  const defs = document.createElementNS(ns, "defs");
  defs.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="24" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#a11"/></marker>';
  const parts = [defs];
  for (const e of edges) {
    const [x1, y1] = at.get(e.waiterSessionId ?? "orphan"), [x2, y2] = at.get(e.holderSessionId ?? "orphan");
    const line = document.createElementNS(ns, "line");
    Object.entries({ x1, y1, x2, y2, "marker-end": "url(#arrow)" }).forEach(([k, v]) => line.setAttribute(k, v));
    line.dataset.edge = `${e.waiterSessionId}->${e.holderSessionId ?? "orphan"}`;
    const title = document.createElementNS(ns, "title");
    title.textContent = `session ${e.waiterSessionId} wants ${e.waiterMode} on ${e.resource}, held ${e.holderMode} by ${e.holderSessionId ? "session " + e.holderSessionId : "an orphan"} (lock ${e.holderLockId})`;
    line.append(title);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", (x1 + x2) / 2 + 4);
    label.setAttribute("y", (y1 + y2) / 2 - 4);
    label.textContent = `${e.resource}: ${e.waiterMode}→${e.holderMode}`;
    parts.push(line, label);
  }
  for (const [id, [x, y]] of at) {
    const circle = document.createElementNS(ns, "circle");
    Object.entries({ cx: x, cy: y, r: 18 }).forEach(([k, v]) => circle.setAttribute(k, v));
    circle.dataset.session = id;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x - 12);
    label.setAttribute("y", y + 4);
    label.textContent = id === "orphan" ? "orph." : "s" + id;
    parts.push(circle, label);
  }
  svg.replaceChildren(...parts);
}

async function pollSessions() {
  try {
    const { sessions } = await api("/v1/sessions?limit=200");
    state.sessions = new Map(sessions.map((s) => [s.sessionId, s]));
    state.polledAt = performance.now();
    renderSessions();
    note("[data-testid=sessions-note]", null);
  } catch (error) {
    fill($("[data-testid=sessions] tbody"), []);
    note("[data-testid=sessions-note]", error);
  }
}

// Between polls the TTL counts down on the page's own clock.
function renderSessions() {
  const elapsed = performance.now() - state.polledAt;
  fill($("[data-testid=sessions] tbody"), [...state.sessions.values()].map((s) => {
    const left = s.ttlLeftMs === null || s.ttlLeftMs === undefined ? null : Math.max(0, Math.round(s.ttlLeftMs - elapsed));
    const stateCell = document.createElement("span");
    stateCell.textContent = s.state;
    stateCell.className = "state-" + s.state;
    return [s.sessionId, s.name, stateCell, left === null ? "-" : (left / 1000).toFixed(1) + " s", (s.ttlMs / 1000).toFixed(1) + " s", s.locks, s.lockspaces.join(", ")];
  }));
}

let running = false;
async function refresh() {
  if (running) return;
  running = true;
  try {
    await pollCluster();
    await Promise.all([pollLockspaces(), pollSessions()]);
    await Promise.all([pollResources(), pollWaitFor()]);
    await pollQueues();
    $("#error").textContent = "";
  } catch (error) {
    $("#error").textContent = error.status === 401 ? "Enter a bearer token to see the cluster." : "Last refresh failed: " + error.message;
  } finally {
    running = false;
  }
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(tokenKey, $("#token").value);
  $("#token-form").hidden = true;
  refresh();
});

refresh();
setInterval(refresh, 1000);
setInterval(renderSessions, 250);
