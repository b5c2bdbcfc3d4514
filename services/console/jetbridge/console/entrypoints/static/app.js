// Jetbridge Console web UI: plain ES module, no build step.
// Every value from the API goes into the DOM through textContent (the h() helper), never
// as HTML. One live connection (/api/v1/stream, read with fetch so the bearer token is a
// header, not part of a URL) tells the current view when to refresh itself.

const API = "/api/v1";
const state = { token: sessionStorage.getItem("jetbridge.token"), me: null, modes: [], lastSeq: 0 };
const $ = (sel) => document.querySelector(sel);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, options = {}) {
  const res = await fetch(API + path, {
    ...options,
    headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json" },
  });
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (res.status === 401) { signOut(); throw new ApiError(401, body); }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : "–");
function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
const badge = (text) => h("span", { class: `badge ${text}` }, text.replaceAll("_", " "));
const may = (action) => state.me?.may.includes(action);

function reasonList(reasons, cls = "reasons") {
  if (!reasons?.length) return null;
  return h("ul", { class: cls }, reasons.map((r) => h("li", {}, r.message, " ", h("code", {}, r.code))));
}

// --- sign in ------------------------------------------------------------------------
async function signIn(token) {
  state.token = token;
  state.me = await api("/whoami");
  state.modes = await api("/modes");
  sessionStorage.setItem("jetbridge.token", token);
  $("#login").hidden = true;
  for (const id of ["#nav", "#who", "#signout", "#live"]) $(id).hidden = false;
  $("#who").textContent = `${state.me.subject} · ${state.me.role}`;
  connectLive();
  route();
}

function signOut() {
  sessionStorage.removeItem("jetbridge.token");
  state.token = null;
  state.me = null;
  live.abort?.();
  for (const id of ["#nav", "#who", "#signout", "#live"]) $(id).hidden = true;
  $("#view").replaceChildren();
  $("#login").hidden = false;
  $("#token").focus();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#login-error").textContent = "";
  try {
    await signIn($("#token").value.trim());
  } catch (err) {
    $("#login-error").textContent = err.status === 401 ? "That token is not valid." : err.message;
  }
});
$("#signout").addEventListener("click", signOut);

// --- live stream: fetch + ReadableStream (EventSource cannot send a bearer header) -----
const live = { abort: null, timer: null };
async function connectLive() {
  const ctrl = new AbortController();
  live.abort = () => ctrl.abort();
  const badgeEl = $("#live");
  try {
    const res = await fetch(`${API}/stream${state.lastSeq ? `?after=${state.lastSeq}` : ""}`, {
      headers: { Authorization: `Bearer ${state.token}` },
      signal: ctrl.signal,
    });
    if (!res.ok) throw new Error(`stream ${res.status}`);
    badgeEl.textContent = "live";
    badgeEl.classList.add("on");
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === "change" && data) onChange(JSON.parse(data));
        if (event === "gap" && data) onGap(JSON.parse(data));
        if (event === "hello" && data && !state.lastSeq) state.lastSeq = JSON.parse(data).seq;
      }
    }
  } catch (err) {
    if (ctrl.signal.aborted) return;
  }
  badgeEl.textContent = "reconnecting";
  badgeEl.classList.remove("on");
  if (state.token) setTimeout(connectLive, 2000);
}

function onChange(change) {
  state.lastSeq = Math.max(state.lastSeq, change.seq);
  if (current.wants && !current.wants(change)) return;
  clearTimeout(live.timer);
  live.timer = setTimeout(() => current.refresh?.(change), 150);
}

// The Console dropped events this page had not seen (it keeps the newest): refetch.
function onGap(gap) {
  state.lastSeq = Math.max(state.lastSeq, gap.first_seq - 1);
  clearTimeout(live.timer);
  live.timer = setTimeout(() => current.refresh?.(), 150);
}

// --- routing ------------------------------------------------------------------------
let current = {};
const views = { clusters: clustersView, failovers: historyView, failover: failoverView, events: eventsView };

function route() {
  if (!state.me) return;
  const [path, query] = location.hash.slice(2).split("?");
  const [name, id] = path.split("/");
  const params = new URLSearchParams(query || "");
  const view = name === "failovers" && id ? "failover" : views[name] ? name : "clusters";
  for (const a of document.querySelectorAll("#nav a")) {
    a.toggleAttribute("aria-current", a.dataset.view === (view === "failover" ? "failovers" : view));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  current = { name: view };
  views[view](decodeURIComponent(id || ""), params);
}
window.addEventListener("hashchange", route);

// replaceChildren() would print "null" for the optional parts of a view: drop them.
const fill = (el, ...nodes) => el.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
const show = (...nodes) => fill($("#view"), ...nodes);

// --- cluster board ------------------------------------------------------------------
async function clustersView() {
  current.refresh = async () => {
    const clusters = await api("/clusters");
    if (current.name !== "clusters") return;
    const focused = document.activeElement?.id;
    show(
      h("h1", {}, "Clusters"),
      clusters.length ? h("div", { class: "board" }, clusters.map(clusterCard))
        : h("p", { class: "hint" }, "No cluster has registered yet."),
    );
    if (focused) document.getElementById(focused)?.focus();
  };
  current.wants = () => true;
  await current.refresh();
}

function clusterCard(c) {
  const f = c.facts;
  const blockersId = `blockers-${c.cluster_id}`;
  const canTrigger = c.can_trigger_failover && may("start_failover");
  const deployments = h("details", { class: "deployments" },
    h("summary", {}, `${c.deployment_count} Deployment(s)`,
      c.ineligible_deployment_count ? `, ${c.ineligible_deployment_count} cannot fail over` : ""));
  deployments.addEventListener("toggle", async () => {
    if (!deployments.open || deployments.dataset.loaded) return;
    deployments.dataset.loaded = "1";
    const list = await api(`/clusters/${encodeURIComponent(c.cluster_id)}/deployments`);
    deployments.append(h("ul", {}, list.map((d) => h("li", {},
      `${d.name} (priority ${d.priority}) `, d.failover_ready ? badge("READY") : badge("INELIGIBLE"),
      reasonList(d.reasons)))));
  });
  return h("article", { class: "card cluster", "aria-labelledby": `c-${c.cluster_id}` },
    h("header", {}, h("h2", { id: `c-${c.cluster_id}` }, c.name), badge(c.health),
      c.registration === "REGISTERED" ? null : badge(c.declared_lost_at ? "LOST" : c.registration)),
    // An admin's attestation, shown as they wrote it (text nodes: never markup).
    c.declared_lost_at ? h("p", { class: "lost", id: `lost-${c.cluster_id}` },
      `Declared lost by ${c.declared_lost_by} at ${fmtTime(c.declared_lost_at)}: `,
      h("q", {}, c.lost_attestation)) : null,
    h("dl", { class: "facts" },
      h("dt", {}, "Failover"), h("dd", {}, c.failover_enabled ? "enabled" : "not enabled"),
      h("dt", {}, "Version"), h("dd", {}, f.jetbridge_version || "–"),
      h("dt", {}, "Plane mode"), h("dd", {}, f.plane_mode),
      h("dt", {}, "External secrets"), h("dd", {}, f.external_secrets_enabled ? "enabled" : "disabled"),
      h("dt", {}, "Secret manager"), h("dd", {}, f.external_secret_manager_name || "not set"),
      h("dt", {}, "Secret store"), h("dd", {},
        f.cluster_secret_store_valid && f.cluster_secret_store_authenticated ? "valid, authenticated" : "not ready"),
      h("dt", {}, "Database endpoint"), h("dd", {}, f.database_endpoint_status),
      h("dt", {}, "Log sink"), h("dd", {}, f.log_sink_configured ? "configured" : "missing"),
    ),
    deployments,
    c.active_request_id ? h("p", {}, "Failover in progress: ",
      h("a", { href: `#/failovers/${encodeURIComponent(c.active_request_id)}` }, c.active_request_id)) : null,
    h("button", {
      type: "button", class: "primary", id: `trigger-${c.cluster_id}`,
      disabled: !canTrigger, "aria-describedby": c.can_trigger_failover ? null : blockersId,
      onclick: () => openTrigger(c),
    }, "Trigger failover"),
    !may("start_failover") ? h("p", { class: "hint" }, "Your role cannot start failovers.") : null,
    c.can_trigger_failover ? null : h("div", { id: blockersId },
      h("p", { class: "hint" }, "Failover cannot be triggered from this cluster:"),
      reasonList(c.trigger_blockers)),
  );
}

// --- trigger dialog -----------------------------------------------------------------
const dlg = $("#trigger");
let triggerSource = null;

async function openTrigger(cluster) {
  triggerSource = cluster;
  $("#t-source").textContent = cluster.name;
  $("#t-confirm-source").textContent = cluster.name;
  $("#t-error").textContent = "";
  $("#t-plan").replaceChildren();
  $("#t-confirm").checked = false;
  $("#t-exclude").checked = false;
  const dest = await api(`/clusters/${encodeURIComponent(cluster.cluster_id)}/destinations`);
  const select = $("#t-destination");
  select.replaceChildren(
    ...(dest.valid_destinations.length ? [] : [h("option", { value: "" }, "No valid destination")]),
    ...dest.valid_destinations.map((id) => h("option", { value: id }, id)),
  );
  const unavailable = dest.options.filter((o) => !o.valid);
  $("#t-unavailable").hidden = !unavailable.length;
  $("#t-unavailable ul").replaceChildren(...unavailable.map((o) =>
    h("li", {}, h("strong", {}, o.cluster_id), ": ", o.reasons.map((r) => r.message).join(" "))));
  $("#t-modes").replaceChildren(...state.modes.map((m, i) => h("div", { class: "mode" },
    h("input", { type: "radio", name: "mode", id: `mode-${m.mode}`, value: m.mode, checked: i === 0,
      "aria-describedby": `mode-help-${m.mode}`, onchange: modeChanged }),
    h("div", {}, h("label", { for: `mode-${m.mode}` }, m.mode[0] + m.mode.slice(1).toLowerCase()),
      h("p", { id: `mode-help-${m.mode}` }, m.help)))));
  $("#t-exclude-row").hidden = !cluster.ineligible_deployment_count;
  $("#t-exclude-count").textContent = `${cluster.ineligible_deployment_count} Deployment(s)`;
  modeChanged();
  $("#t-start").disabled = !dest.valid_destinations.length;
  dlg.showModal();
  select.focus();
}

function chosenMode() {
  return document.querySelector('input[name="mode"]:checked')?.value || "CONTROLLED";
}

function modeChanged() {
  const forced = chosenMode() === "FORCED";
  $("#t-confirm-row").hidden = !forced;
  $("#t-drain-row").hidden = forced;
}

function triggerBody() {
  return {
    source_cluster_id: triggerSource.cluster_id,
    destination_cluster_id: $("#t-destination").value,
    mode: chosenMode(),
    drain_timeout_seconds: Number($("#t-drain").value || 600),
    exclude_ineligible: $("#t-exclude").checked,
    confirm_forced: $("#t-confirm").checked,
  };
}

function showProblem(err) {
  const b = err.body || {};
  const lines = [...(b.problems || []).map((p) => `${p.field}: ${p.message}`), ...(b.reasons || []).map((r) => r.message)];
  $("#t-error").textContent = lines.length ? lines.join(" ") : err.message;
}

$("#t-preview").addEventListener("click", async () => {
  $("#t-error").textContent = "";
  try {
    const plan = await api("/failovers/plan", { method: "POST", body: JSON.stringify(triggerBody()) });
    fill($("#t-plan"),
      h("h3", {}, plan.would_be_accepted ? "The Navigator would accept this failover" : "The Navigator would refuse it"),
      reasonList(plan.blocking_reasons),
      reasonList(plan.warnings, "reasons warn"),
      h("p", {}, `${plan.missions.length} mission(s), in this order: `,
        plan.missions.slice(0, 12).map((m) => m.deployment_id).join(", "), plan.missions.length > 12 ? ", …" : ""),
    );
  } catch (err) { showProblem(err); }
});

$("#t-cancel").addEventListener("click", () => dlg.close());
$("#t-destination").addEventListener("change", () => $("#t-plan").replaceChildren());

$("#trigger-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#t-error").textContent = "";
  if (chosenMode() === "FORCED" && !$("#t-confirm").checked) {
    $("#t-error").textContent = "Confirm that you accept losing running tasks to start a Forced failover.";
    $("#t-confirm").focus();
    return;
  }
  $("#t-start").disabled = true;
  try {
    const answer = await api("/failovers", { method: "POST", body: JSON.stringify(triggerBody()) });
    dlg.close();
    location.hash = `#/failovers/${encodeURIComponent(answer.subject_id)}`;
  } catch (err) { showProblem(err); } finally { $("#t-start").disabled = false; }
});

// --- history ------------------------------------------------------------------------
async function historyView() {
  current.wants = (c) => c.aggregate_type === "FailoverRequest" || c.aggregate_type === "Mission";
  current.refresh = async () => {
    const list = await api("/failovers?limit=200");
    if (current.name !== "failovers") return;
    show(h("h1", {}, "Failovers"), list.length ? h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Request", "Route", "Status", "Progress", "Mode", "By", "Requested", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((r) => h("tr", {},
        h("td", {}, h("a", { href: `#/failovers/${encodeURIComponent(r.request_id)}` }, r.request_id)),
        h("td", {}, `${r.source_cluster_id} → ${r.destination_cluster_id}`),
        h("td", {}, badge(r.status)),
        h("td", {}, progressBar(r.progress, r.status), h("span", { class: "hint" }, `${r.progress.percent}%`)),
        h("td", {}, r.mode), h("td", {}, r.requested_by), h("td", {}, fmtTime(r.requested_at)),
        h("td", {}, fmtDuration(r.duration_ms)))))))
      : h("p", { class: "hint" }, "No failover yet."));
  };
  await current.refresh();
}

// --- one failover, live ---------------------------------------------------------------
function progressBar(p, status) {
  // Width: the share of flight steps done; colour: how it is going.
  const tone = status === "SUCCEEDED" ? "ok" : p.failed || status === "FAILED" || status === "REJECTED" ? "bad"
    : status === "CANCELLED" ? "off" : "run";
  return h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
    "aria-valuenow": String(p.percent), "aria-label": "Failover progress" },
  h("span", { class: tone, style: `width:${p.percent}%` }));
}

const STEP_ICON = { SUCCEEDED: "✔", FAILED: "✖", RUNNING: "▶", CLEARED: "…", PLANNED: "○" };

function flightBlock(f) {
  return h("section", {}, h("h3", {}, `${f.kind === "SOURCE" ? "Source" : "Destination"} · ${f.cluster_id} `, badge(f.status)),
    h("ol", { class: "steps" }, f.steps.map((s) => h("li", { class: s.status },
      h("span", { "aria-hidden": "true" }, STEP_ICON[s.status] || "○"),
      h("span", {}, s.name.replaceAll("_", " ").toLowerCase(), " ", h("span", { class: "visually-hidden" }, `(${s.status})`),
        s.failures > 0 ? ` · ${s.failures} failed ${s.failures > 1 ? "tries" : "try"}` : ""),
      h("span", { class: "dur" }, fmtDuration(s.duration_ms)),
      s.error ? h("span", { class: "err" }, `${s.error_code}: ${s.error}`) : null))),
    f.tasks_still_running_after_drain ? h("p", { class: "hint" }, `${f.tasks_still_running_after_drain} task(s) still ran when the drain timed out.`) : null);
}

function missionBlock(m, openIds) {
  const el = h("details", { "data-id": m.mission_id, open: openIds.has(m.mission_id) },
    h("summary", {}, badge(m.status), h("strong", {}, m.deployment_id),
      m.current_step ? h("span", { class: "hint" }, m.current_step.replace(":", " · ").replaceAll("_", " ").toLowerCase()) : null,
      h("span", { class: "hint" }, fmtDuration(m.duration_ms)),
      m.cleanup !== "NOT_NEEDED" ? h("span", { class: "hint" }, `source cleanup ${m.cleanup.toLowerCase()}`) : null),
    h("div", { class: "body" },
      m.reason ? h("p", { class: "error" }, `${m.reason_code}: ${m.reason}`) : null,
      h("div", { class: "flights" }, m.flights.map(flightBlock))));
  return el;
}

async function failoverView(id) {
  current.wants = (c) => c.request_id === id;
  current.refresh = async () => {
    let r;
    try { r = await api(`/failovers/${encodeURIComponent(id)}`); } catch (err) {
      if (err.status === 404) { show(h("h1", {}, "Failover"), h("p", {}, `Waiting for failover ${id} to appear…`)); return; }
      throw err;
    }
    if (current.name !== "failover") return;
    const openIds = new Set([...document.querySelectorAll(".missions details[open]")].map((d) => d.dataset.id));
    const p = r.progress;
    const active = r.status === "PENDING" || r.status === "IN_PROGRESS";
    show(
      h("div", { class: "toolbar" }, h("h1", {}, `Failover ${r.request_id} `, badge(r.status)),
        h("span", {}, h("a", { href: `#/events?request_id=${encodeURIComponent(r.request_id)}` }, "Audit trail"), " ",
          active && may("cancel_failover") && !r.cancel_requested_by
            ? h("button", { type: "button", class: "danger", onclick: () => cancelFailover(r.request_id) }, "Cancel failover") : null, " ",
          r.can_force && may("start_failover")
            ? h("button", { type: "button", class: "danger", id: "force-takeover", onclick: () => forceTakeover(r) },
              `Force failover to ${r.destination_cluster_id}`) : null)),
      h("p", {}, `${r.source_cluster_id} → ${r.destination_cluster_id} · ${r.mode} · requested by ${r.requested_by} at ${fmtTime(r.requested_at)}`),
      progressBar(p, r.status),
      h("p", { class: "summary", role: "status" },
        h("span", {}, `${p.percent}% done`), h("span", {}, `${p.succeeded} succeeded`), h("span", {}, `${p.failed} failed`),
        h("span", {}, `${p.running} running`), h("span", {}, `${p.waiting} waiting`), h("span", {}, `${p.cancelled} cancelled`),
        h("span", {}, `elapsed ${fmtDuration(r.duration_ms)}`)),
      r.superseded_by ? h("p", { class: "hint", id: "superseded-by" }, "Taken over by Forced failover ",
        h("a", { href: `#/failovers/${encodeURIComponent(r.superseded_by)}` }, r.superseded_by),
        `, requested by ${r.cancel_requested_by}: its unfinished missions were cancelled.`)
        : r.cancel_requested_by ? h("p", { class: "hint" }, `Cancel requested by ${r.cancel_requested_by}.`) : null,
      r.can_force ? h("p", { class: "hint" }, `Source ${r.source_cluster_id} is unreachable: this Controlled failover `
        + "cannot drain or delete there. A Forced failover to the same destination can take it over.") : null,
      reasonList(r.rejection_reasons), reasonList(r.failure_reasons), reasonList(r.warnings, "reasons warn"),
      r.ineligible.length ? h("details", {}, h("summary", {}, `${r.ineligible.length} finding(s) on Deployments that cannot fail over`), reasonList(r.ineligible)) : null,
      h("h2", {}, `Missions (${r.missions.length})`),
      h("div", { class: "missions" }, r.missions.map((m) => missionBlock(m, openIds))),
    );
  };
  await current.refresh();
}

async function forceTakeover(r) {
  const body = {
    source_cluster_id: r.source_cluster_id, destination_cluster_id: r.destination_cluster_id,
    mode: "FORCED", confirm_forced: true, exclude_ineligible: r.exclude_ineligible,
  };
  // The same dry run as the trigger dialog's preview: a takeover the Navigator would
  // refuse (the destination unhealthy too, say) is explained before anything is asked.
  let plan;
  try { plan = await api("/failovers/plan", { method: "POST", body: JSON.stringify(body) }); } catch (err) {
    alert(err.message);
    return;
  }
  if (!plan.would_be_accepted) {
    alert(`The Navigator would refuse this Forced failover:\n${plan.blocking_reasons.map((x) => x.message).join("\n")}`);
    return;
  }
  const lost = `Tasks still running on ${r.source_cluster_id} are lost; the old copies there are deleted when it is reachable again.`;
  if (!confirm(`Force the ${plan.missions.length} Deployment(s) of ${r.source_cluster_id} to ${r.destination_cluster_id}? `
    + `Failover ${r.request_id}'s unfinished missions are cancelled and a Forced failover moves them without a drain. ${lost}`)) return;
  try {
    const answer = await api("/failovers", { method: "POST", body: JSON.stringify(body) });
    location.hash = `#/failovers/${encodeURIComponent(answer.subject_id)}`;
  } catch (err) {
    const reasons = (err.body && err.body.reasons) || [];
    alert(reasons.length ? reasons.map((x) => x.message).join("\n") : err.message);
  }
}

async function cancelFailover(id) {
  if (!confirm(`Cancel failover ${id}? Missions already running will finish; no new one starts.`)) return;
  try { await api(`/failovers/${encodeURIComponent(id)}/cancel`, { method: "POST" }); } catch (err) { alert(err.message); }
}

// --- audit --------------------------------------------------------------------------
async function eventsView(_, params) {
  const fields = ["request_id", "deployment_id", "cluster_id", "type", "since", "until"];
  const form = h("form", { class: "filters card", role: "search" },
    fields.map((f) => h("div", {}, h("label", { for: `f-${f}` }, f.replace("_id", "").replace("type", "event type")),
      h("input", { id: `f-${f}`, name: f, value: params.get(f) || "", type: f === "since" || f === "until" ? "datetime-local" : "text" }))),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const f of fields) {
      const v = form.elements[f].value.trim();
      if (v) q.set(f, f === "since" || f === "until" ? new Date(v).toISOString() : v);
    }
    location.hash = `#/events?${q}`;
  });
  const tbody = h("tbody");
  const filter = new URLSearchParams();
  for (const f of fields) if (params.get(f)) filter.set(f, params.get(f));
  show(h("h1", {}, "Audit trail"), form, h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Aggregate", "Actor", "Request", "Deployment", "Clusters"].map((t) => h("th", { scope: "col" }, t)))),
    tbody)));
  const row = (e) => h("tr", {},
    h("td", {}, e.seq), h("td", {}, fmtTime(e.occurred_at)),
    h("td", {}, h("details", {}, h("summary", {}, e.event_type), h("pre", { class: "payload" }, JSON.stringify(e.payload, null, 2)))),
    h("td", {}, `${e.aggregate_type} ${e.aggregate_id}`), h("td", {}, e.actor || ""),
    h("td", {}, e.request_id || ""), h("td", {}, e.deployment_id || ""), h("td", {}, e.cluster_ids.join(", ")));
  let after = 0;
  current.wants = () => true;
  current.refresh = async () => {
    const page = await api(`/events?${filter}&after=${after}&limit=1000`);
    if (current.name !== "events") return;
    if (after === 0 && page.first_seq > 1) tbody.append(droppedRow(page.first_seq));
    tbody.append(...page.events.map(row));
    // (an empty filtered page answers the cursor it was given: past the dropped part now)
    after = Math.max(page.last_seq, page.first_seq - 1);
  };
  await current.refresh();
}

function droppedRow(firstSeq) {
  return h("tr", { class: "dropped" }, h("td", { colspan: 8 },
    `Events before #${firstSeq} are no longer held by this Console (it keeps the newest); `,
    h("code", {}, "jetbridge audit timeline"), " reads the whole ledger."));
}

// --- start --------------------------------------------------------------------------
if (state.token) signIn(state.token).catch(() => signOut());
else signOut();
