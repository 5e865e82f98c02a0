// mediavault dashboard: job list, submit form, live progress over the WebSocket.
"use strict";

const API = "/api/v1";
const state = { key: localStorage.getItem("mediavault.key") || "", cursor: null, ws: null, retry: 1000, wasLive: false };
const $ = (id) => document.getElementById(id);

function headers(json) {
  const h = {};
  if (state.key) h["X-API-Key"] = state.key;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(method, path, body) {
  const res = await fetch(API + path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error && `${data.error.code}: ${data.error.message}`) || `HTTP ${res.status}`);
  return data;
}

function fmtBytes(n) {
  if (n == null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function row(job) {
  let tr = document.getElementById("job-" + job.id);
  if (!tr) {
    tr = document.createElement("tr");
    tr.id = "job-" + job.id;
    tr.innerHTML = '<td class="title"></td><td class="kind"></td><td class="status"></td>' +
      '<td><progress max="1" value="0"></progress> <span class="bytes muted"></span></td><td class="speed"></td><td class="actions"></td>';
    return tr;
  }
  return tr;
}

function render(job, prepend) {
  const tr = row(job);
  const cell = (cls) => tr.querySelector("." + cls);
  if (job.title || job.url) { cell("title").textContent = job.title || job.url; cell("title").title = job.url || ""; }
  if (job.kind) cell("kind").textContent = job.kind;
  cell("status").textContent = job.status;
  cell("status").className = "status status-" + job.status;
  const p = job.progress || job;
  const bar = tr.querySelector("progress");
  if (p.total_bytes) { bar.max = p.total_bytes; bar.value = p.downloaded_bytes || 0; }
  else if (job.status === "completed") { bar.max = 1; bar.value = 1; }
  else bar.removeAttribute("value");
  cell("bytes").textContent = fmtBytes(p.downloaded_bytes) + (p.total_bytes ? " / " + fmtBytes(p.total_bytes) : "");
  cell("speed").textContent = p.speed ? fmtBytes(p.speed) + "/s" : "";
  const actions = cell("actions");
  actions.textContent = "";
  if (job.status === "queued" || job.status === "running") {
    const b = document.createElement("button");
    b.textContent = "Cancel";
    b.onclick = () => api("DELETE", `/download/${job.job_id || job.id}`).catch(alert);
    actions.append(b);
  } else if (job.status === "completed" && (job.file_urls || job.file_url)) {
    const urls = job.file_urls && job.file_urls.length ? job.file_urls : [job.file_url];
    urls.forEach((url, n) => {
      const a = document.createElement("a");
      a.textContent = urls.length > 1 ? `File ${n + 1}` : "File";
      a.href = url;  // served by the API (absolute path), named by its Content-Disposition
      if (state.key) {  // a navigation cannot carry the key header: fetch it instead
        a.onclick = (ev) => { ev.preventDefault(); downloadFile(url); };
      } else {
        a.download = "";  // no key: the browser streams it to disk itself
      }
      actions.append(a, " ");
    });
  }
  if (!tr.parentNode) {
    const body = $("jobs");
    if (prepend) body.prepend(tr); else body.append(tr);
  }
}

async function downloadFile(url) {
  const res = await fetch(url, { headers: headers(false) });
  if (!res.ok) { alert(`HTTP ${res.status}`); return; }
  const blob = await res.blob();
  const name = (res.headers.get("content-disposition") || "").match(/filename\*?=(?:UTF-8'')?"?([^";]+)/);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name ? decodeURIComponent(name[1]) : url.split("/").slice(-2, -1)[0];
  a.click();
  URL.revokeObjectURL(a.href);
}

async function loadJobs(more) {
  const q = new URLSearchParams({ limit: "25", top_level: "true" });
  if (more && state.cursor) q.set("cursor", state.cursor);
  if (!more) $("jobs").textContent = "";
  const page = await api("GET", "/jobs?" + q);
  page.items.forEach((job) => render(job, false));
  state.cursor = page.next_cursor;
  $("more").hidden = !page.next_cursor;
}

function connect() {
  if (state.ws) state.ws.close();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const q = state.key ? "?token=" + encodeURIComponent(state.key) : "";
  const ws = new WebSocket(`${proto}//${location.host}${API}/ws${q}`);
  state.ws = ws;
  ws.onopen = () => {
    $("live").textContent = "live"; $("live").classList.add("on"); state.retry = 1000;
    // events sent while this page was offline (a restart, a network blip) are gone:
    // after a reconnect, the list is read again
    if (state.wasLive) loadJobs(false).catch(() => {});
    state.wasLive = true;
  };
  ws.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    const known = document.getElementById("job-" + ev.job_id);
    const final = ["job.completed", "job.failed", "job.cancelled"].includes(ev.type);
    // a final state: the job itself (its file links, title, error), not just the event
    if (known && final) api("GET", `/jobs/${ev.job_id}`).then((job) => render(job, false)).catch(() => render({ ...ev, id: ev.job_id }, false));
    else if (known) render({ ...ev, id: ev.job_id }, false);
    else if (ev.type === "job.queued") api("GET", `/jobs/${ev.job_id}`).then((job) => { if (!job.parent_id) render(job, true); }).catch(() => {});
  };
  ws.onclose = () => {
    $("live").textContent = "offline"; $("live").classList.remove("on");
    if (state.ws === ws) setTimeout(connect, state.retry = Math.min(state.retry * 2, 30000));
  };
}

async function start() {
  try {
    const me = await api("GET", "/users/me");
    $("whoami").textContent = `${me.name} (${me.role})`;
    await loadJobs(false);
    connect();
  } catch (err) {
    $("whoami").textContent = err.message;
  }
}

$("key-form").onsubmit = (ev) => {
  ev.preventDefault();
  state.key = $("api-key").value.trim();
  localStorage.setItem("mediavault.key", state.key);
  start();
};

$("submit-form").onsubmit = async (ev) => {
  ev.preventDefault();
  const kind = $("kind").value;
  const body = { url: $("url").value, format: $("format").value || "best", audio_only: $("audio-only").checked };
  const path = kind === "download" ? "/download" : `/${kind}/download`;
  try {
    const job = await api("POST", path, body);
    render(job, true);
    $("submit-status").textContent = `queued ${job.id}`;
    $("url").value = "";
  } catch (err) {
    $("submit-status").textContent = err.message;
  }
};

$("more").onclick = () => loadJobs(true);
$("api-key").value = state.key;
start();
