// Reports: reads the reports API for the chosen range and draws it with Chart.js (bundled, window.Chart).
// Every text from the server goes into the page with textContent (util.el) or into Chart.js labels (canvas).
import { $, api, clear, clock, el, learnSkew, now, setCsrf } from "./util.js";

const charts = {};
const COLORS = { offered: "#9fb3d9", answered: "#3563e9", abandoned: "#c0352b", level: "#12805c", agents: "#6a4fe0", agentsA: "#d9730d" };
const percent = (value) => (value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`);
const duration = (value) => (value === null || value === undefined ? "–" : clock(value));
const iso = (day) => day.toISOString().slice(0, 10);

function query(extra = {}) {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value, ...extra });
  for (const name of ["queue", "channel"]) if ($(name).value && !(name in extra)) params.set(name, $(name).value);
  for (const [name, value] of [...params]) if (value === "") params.delete(name);
  return params;
}

function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new window.Chart($(id), { ...config, options: { animation: false, maintainAspectRatio: false, ...config.options } });
}

function label(start, grain) {
  if (grain === "15m" || grain === "hour") return `${start.slice(5, 10)} ${start.slice(11, 16)}`;
  return grain === "week" ? `week of ${start.slice(0, 10)}` : start.slice(0, 10);
}

function table(id, header, rows) {
  const node = $(id);
  clear(node);
  node.append(el("thead", {}, [el("tr", {}, header.map((name) => el("th", { attrs: { scope: "col" }, text: name })))]));
  const body = el("tbody");
  for (const row of rows) body.append(el("tr", {}, row.map((cell, i) => el(i ? "td" : "th", { class: i ? "wb-num" : "", attrs: i ? {} : { scope: "row" }, text: cell }))));
  if (!rows.length) body.append(el("tr", {}, [el("td", { class: "muted", attrs: { colspan: header.length }, text: "Nothing in this range." })]));
  node.append(body);
}

async function intervals() {
  const grain = $("grain").value;
  const params = query({ grain });
  $("intervals-csv").href = `/api/reports/intervals?${params}&format=csv&by=queue,channel`;
  const data = await api("GET", `/api/reports/intervals?${params}`);
  const totals = $("totals");
  clear(totals);
  const t = data.totals;
  for (const [name, value] of [
    ["Offered", t.offered], ["Answered", t.answered], ["Abandoned", `${t.abandoned} (${percent(t.abandon_rate)})`],
    ["Service level", percent(t.service_level)], ["ASA", duration(t.average_speed_of_answer)],
    ["AHT", duration(t.average_handle_time)], ["Satisfaction", t.satisfaction === null ? "–" : `${t.satisfaction} / 5`],
  ]) {
    totals.append(el("div", { class: "rp-total" }, [el("span", { class: "rp-total-value", text: value }), el("span", { class: "rp-total-label", text: name })]));
  }
  const labels = data.rows.map((row) => label(row.start, grain));
  draw("volume-chart", {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "Answered", data: data.rows.map((r) => r.answered), backgroundColor: COLORS.answered, stack: "outcome" },
        { label: "Abandoned", data: data.rows.map((r) => r.abandoned), backgroundColor: COLORS.abandoned, stack: "outcome" },
        { label: "Fell back", data: data.rows.map((r) => r.fell_back), backgroundColor: COLORS.offered, stack: "outcome" },
        { label: "Service level %", type: "line", yAxisID: "level", data: data.rows.map((r) => (r.service_level === null ? null : r.service_level * 100)), borderColor: COLORS.level, backgroundColor: COLORS.level, spanGaps: true, tension: 0.25 },
      ],
    },
    options: {
      scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: "contacts" } }, x: { stacked: true }, level: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "service level %" } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
  table("interval-table", ["Start", "Offered", "Answered", "Abandoned", "SL", "ASA", "AHT", "Transfers"], data.rows.map((r) => [
    label(r.start, grain), r.offered, r.answered, r.abandoned, percent(r.service_level), duration(r.average_speed_of_answer), duration(r.average_handle_time), r.transfers,
  ]));
}

async function reasons() {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value, kind: "contact_reason" });
  $("reasons-csv").href = `/api/reports/reasons?${new URLSearchParams({ from: $("from").value, to: $("to").value })}&format=csv`;
  const data = await api("GET", `/api/reports/reasons?${params}`);
  $("reasons-empty").classList.toggle("hidden", data.totals.length > 0);
  draw("reasons-chart", {
    type: "bar",
    data: { labels: data.totals.map((r) => r.label), datasets: [{ label: "Contacts", data: data.totals.map((r) => r.contacts), backgroundColor: COLORS.answered }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
  });
}

async function pyramid() {
  const levels = await api("GET", "/api/value/pyramid");
  draw("pyramid-chart", {
    type: "bar",
    data: {
      labels: levels.map((l) => l.tier),
      datasets: [
        { label: "Customers %", data: levels.map((l) => l.share_of_customers * 100), backgroundColor: COLORS.offered },
        { label: "Revenue (12 months) %", data: levels.map((l) => l.share_of_revenue * 100), backgroundColor: COLORS.agents },
      ],
    },
    options: { indexAxis: "y", plugins: { legend: { position: "bottom" } }, scales: { x: { beginAtZero: true, max: 100 } } },
  });
}

async function agents() {
  const params = query({ grain: "week", by: "agent" });
  $("agents-csv").href = `/api/reports/intervals?${params}&format=csv`;
  const data = await api("GET", `/api/reports/intervals?${params}`);
  const people = new Map();
  for (const row of data.rows) {
    if (!row.agent_id) continue;
    const sum = people.get(row.agent_id) || { name: row.agent, answered: 0, handled: 0, handle: 0, transfers: 0, rated: 0, rating: 0, wait: 0 };
    sum.answered += row.answered; sum.handled += row.handled; sum.transfers += row.transfers; sum.rated += row.rated;
    sum.handle += (row.average_handle_time || 0) * row.handled; sum.rating += (row.satisfaction || 0) * row.rated;
    people.set(row.agent_id, sum);
  }
  const rows = [...people.values()].sort((a, b) => b.answered - a.answered).map((p) => [
    p.name, p.answered, p.handled, duration(p.handled ? p.handle / p.handled : null), p.transfers, p.rated ? (p.rating / p.rated).toFixed(2) : "–",
  ]);
  table("agent-table", ["Agent", "Answered", "Handled", "AHT", "Transfers", "Satisfaction"], rows);
}

async function complaints() {
  const params = new URLSearchParams({ from: $("from").value, to: $("to").value });
  $("complaints-csv").href = `/api/reports/complaints?${params}&format=csv`;
  const data = await api("GET", `/api/reports/complaints?${params}`);
  table("complaint-table", ["Category", "Opened", "Escalated", "Resolved", "Hours to resolve", "SLA kept"], data.rows.map((r) => [
    r.category.replace("_", " "), r.opened, `${r.escalated} (${percent(r.escalation_rate)})`, r.resolved,
    r.average_hours_to_resolve === null ? "–" : r.average_hours_to_resolve.toFixed(1), percent(r.sla_compliance),
  ]));
}

async function staffing() {
  const queue = $("queue").value || ($("queue").options[1] || {}).value;
  if (!queue) return;
  const data = await api("GET", `/api/reports/staffing?${new URLSearchParams({ queue, day: $("staffing-day").value })}`);
  const busy = data.rows.filter((r) => r.contacts > 0);
  $("staffing-summary").textContent = `${queue}: ${data.totals.contacts} contacts forecast from ${data.weeks.length} past weeks; ` +
    `at most ${data.totals.peak_agents_erlang_c} agents at once by Erlang C, ${data.totals.agent_hours_erlang_c} agent-hours, ` +
    `for ${Math.round(data.target_service_level * 100)}% answered in ${data.target_seconds} s.` +
    (data.patience_seconds ? ` Erlang A with a measured patience of ${data.patience_seconds} s needs at most ${data.totals.peak_agents_erlang_a}.` : "");
  const rows = busy.length ? data.rows : data.rows.filter((_, i) => i % 4 === 0);
  const datasets = [
    { label: "Forecast contacts", data: rows.map((r) => r.contacts), backgroundColor: COLORS.offered, yAxisID: "y" },
    { label: "Agents (Erlang C)", type: "line", data: rows.map((r) => r.agents_erlang_c), borderColor: COLORS.agents, backgroundColor: COLORS.agents, stepped: true, yAxisID: "agents" },
  ];
  if (data.patience_seconds) datasets.push({ label: "Agents (Erlang A)", type: "line", data: rows.map((r) => r.agents_erlang_a), borderColor: COLORS.agentsA, backgroundColor: COLORS.agentsA, stepped: true, yAxisID: "agents" });
  draw("staffing-chart", {
    type: "bar",
    data: { labels: rows.map((r) => r.start.slice(11, 16)), datasets },
    options: { plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true, title: { display: true, text: "contacts per 15 min" } }, agents: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "agents" } } } },
  });
}

async function refresh() {
  $("error").textContent = "";
  $("export-csv").href = `/api/reports/conversations?${new URLSearchParams({ from: $("from").value, to: $("to").value })}&format=csv`;
  $("app").setAttribute("aria-busy", "true");
  const results = await Promise.allSettled([intervals(), reasons(), pyramid(), agents(), complaints(), staffing()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) $("error").textContent = failed.reason.message;
  $("app").setAttribute("aria-busy", "false");
}

async function main() {
  const serverTime = document.querySelector('meta[name="server-time"]');
  if (serverTime) learnSkew(serverTime.content);
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.color = "#364055";
  const today = new Date(now());
  $("to").value = iso(today);
  $("from").value = iso(new Date(today.getTime() - 6 * 86400000));
  $("staffing-day").value = iso(new Date(today.getTime() + 86400000));
  const params = new URLSearchParams(window.location.search);
  for (const name of ["from", "to", "grain", "channel"]) if (params.get(name)) $(name).value = params.get(name);
  try {
    const queues = await api("GET", "/api/queues");
    for (const queue of queues) $("queue").append(el("option", { attrs: { value: queue.name }, text: queue.name }));
    if (params.get("queue")) $("queue").value = params.get("queue");
  } catch (error) { $("error").textContent = error.message; }
  $("controls").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  $("staffing-day").addEventListener("change", () => staffing().catch((error) => { $("error").textContent = error.message; }));
  $("sign-out").addEventListener("click", async () => {
    try { setCsrf((await api("GET", "/api/auth/me")).csrf_token); await api("POST", "/api/auth/logout"); } catch (_) { /* gone already */ }
    window.location.assign("/login?next=/reports");
  });
  await refresh();
}

main();
