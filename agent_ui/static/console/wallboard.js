// The wallboard: the /wallboard socket sends the whole board, then the rows that changed; times in state and
// waits tick here every second from the timestamps the server sent. Names are set with textContent only.
import { $, api, channelName, clear, clock, el, learnSkew, now, setCsrf, show, toast } from "./util.js";

const board = { queues: {}, agents: {}, summary: null, alerts: [] };
const STATE_LABEL = { available: "Available", ringing: "Ringing", busy: "Busy", away: "Away", offline: "Offline" };
let socket = null;
let chosenAgent = null;
let watching = null; // the conversation read live in the agent dialog

const percent = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`);
const seconds = (value) => (value === null || value === undefined ? "–" : clock(value));
const since = (iso) => { const t = Date.parse(iso || ""); return Number.isNaN(t) ? 0 : (now() - t) / 1000; };

function apply(change, full) {
  learnSkew(change.at);
  if (full) { board.queues = {}; board.agents = {}; }
  Object.assign(board.queues, change.queues || {});
  Object.assign(board.agents, change.agents || {});
  for (const key of change.removed_queues || []) delete board.queues[key];
  for (const key of change.removed_agents || []) delete board.agents[key];
  if (change.summary) board.summary = change.summary;
  if (change.alerts) board.alerts = change.alerts;
  render();
  $("app").setAttribute("aria-busy", "false");
  $("app").dataset.updated = change.at;
}

function render() {
  renderTiles();
  renderAlerts();
  renderQueues();
  renderAgents();
}

function totalsToday() {
  const rows = Object.values(board.queues).filter((row) => row.channel === "all");
  const sum = (name) => rows.reduce((total, row) => total + (row.today[name] || 0), 0);
  const inTarget = sum("answered_in_target"), denominator = sum("answered") + sum("abandoned_after_target") + sum("fell_back");
  return { answered: sum("answered"), abandoned: sum("abandoned"), level: denominator ? inTarget / denominator : null };
}

function renderTiles() {
  const totals = totalsToday();
  $("tile-waiting").textContent = board.summary ? board.summary.waiting : 0;
  $("tile-sl").textContent = percent(totals.level);
  $("tile-answered").textContent = totals.answered;
  $("tile-abandoned").textContent = totals.abandoned;
  const states = $("tile-agents");
  clear(states);
  for (const [state, count] of Object.entries((board.summary || {}).agents || {})) {
    if (state === "offline") continue;
    states.append(el("span", { class: `wb-state wb-state-${state}`, attrs: { title: STATE_LABEL[state] } }, [
      el("span", { class: "wb-state-count", text: count }), el("span", { class: "wb-state-name", text: STATE_LABEL[state] }),
    ]));
  }
  tick();
}

function renderAlerts() {
  const box = $("alerts");
  clear(box);
  for (const alert of board.alerts) box.append(el("p", { class: `wb-alert wb-alert-${alert.kind}`, text: alert.text }));
  show(box, board.alerts.length > 0);
}

function levelCell(figures, target) {
  const level = figures.service_level;
  const kind = level === null ? "none" : level >= target ? "ok" : level >= target - 0.1 ? "warn" : "bad";
  return el("td", { class: `wb-num wb-level wb-level-${kind}`, text: percent(level) });
}

function renderQueues() {
  const body = $("queue-rows");
  clear(body);
  const rows = Object.entries(board.queues).sort(([a], [b]) => a.localeCompare(b));
  for (const [key, row] of rows) {
    const all = row.channel === "all";
    const name = all ? row.queue : channelName(row.channel);
    const tr = el("tr", { class: all ? "wb-queue-row" : "wb-channel-row", attrs: { "data-key": key } }, [
      el("th", { attrs: { scope: "row" } }, [el("span", { class: all ? "wb-queue-name" : `wb-channel ch-text-${row.channel}`, text: name })]),
      el("td", { class: "wb-num wb-waiting", text: row.waiting }),
      el("td", { class: "wb-num wb-longest", attrs: { "data-since": row.oldest_since || "", "data-alert": "" }, text: "0:00" }),
      levelCell(row.today, row.target_service_level),
      levelCell(row.last_30_minutes, row.target_service_level),
      el("td", { class: "wb-num", text: seconds(row.today.average_speed_of_answer) }),
      el("td", { class: "wb-num", text: seconds(row.today.average_handle_time) }),
      el("td", { class: "wb-num wb-offered", text: row.today.offered }),
      el("td", { class: "wb-num wb-answered", text: row.today.answered }),
      el("td", { class: "wb-num", text: `${row.today.abandoned}${row.today.abandon_rate ? ` (${percent(row.today.abandon_rate)})` : ""}` }),
    ]);
    body.append(tr);
  }
  if (!rows.length) body.append(el("tr", {}, [el("td", { attrs: { colspan: 10 }, class: "muted", text: "No queues yet." })]));
}

function renderAgents() {
  const grid = $("agent-grid");
  const filter = $("agent-filter").value;
  clear(grid);
  const agents = Object.values(board.agents)
    .filter((agent) => (filter === "all" ? true : filter ? agent.state === filter || (filter === "busy" && agent.state === "ringing") : agent.state !== "offline"))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const agent of agents) {
    const card = el("li", { class: `wb-agent wb-agent-${agent.state}`, attrs: { "data-agent": agent.id } }, [
      el("button", { class: "wb-agent-button", attrs: { type: "button", "aria-label": `${agent.name}: ${STATE_LABEL[agent.state]}` } }, [
        el("span", { class: "wb-agent-name", text: agent.name }),
        el("span", { class: "wb-agent-state" }, [
          el("span", { class: `dot state-${agent.presence}` }),
          el("span", { text: agent.state === "away" && agent.reason ? `Away · ${agent.reason}` : STATE_LABEL[agent.state] }),
          el("span", { class: "wb-agent-time", attrs: { "data-since": agent.since || "" } }),
        ]),
        el("span", { class: "wb-agent-load muted small", text: agent.contacts ? `${agent.contacts} contact${agent.contacts > 1 ? "s" : ""} · ${agent.channels.join(", ")}` : "No contacts" }),
      ]),
    ]);
    card.querySelector("button").addEventListener("click", () => openAgent(agent.id));
    grid.append(card);
  }
  if (!agents.length) grid.append(el("li", { class: "muted wb-empty", text: "Nobody to show." }));
  tick();
}

/** Every second: longest waits and times in state move on without a message from the server. */
function tick() {
  $("wall-clock").textContent = new Date(now()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  let longest = 0;
  for (const cell of document.querySelectorAll(".wb-longest")) {
    const waited = cell.dataset.since ? since(cell.dataset.since) : 0;
    cell.textContent = clock(waited);
    cell.classList.toggle("wb-late", waited > 60);
    longest = Math.max(longest, waited);
  }
  $("tile-longest").textContent = clock(longest);
  for (const span of document.querySelectorAll(".wb-agent-time")) {
    span.textContent = span.dataset.since ? clock(since(span.dataset.since)) : "";
  }
}

function openAgent(agentId) {
  chosenAgent = board.agents[agentId];
  if (!chosenAgent) return;
  $("agent-dialog-title").textContent = chosenAgent.name;
  $("agent-dialog-state").textContent = `${STATE_LABEL[chosenAgent.state]} for ${clock(since(chosenAgent.since))}`;
  $("whisper-text").value = "";
  renderWork();
  $("agent-dialog").showModal();
}

/** The chosen agent's contacts: read one live, or move it to another queue. */
function renderWork() {
  const list = $("agent-work");
  clear(list);
  const queues = [...new Set(Object.values(board.queues).map((row) => row.queue))].sort();
  const select = $("transfer-queue");
  clear(select);
  for (const name of queues) select.append(el("option", { attrs: { value: name }, text: name }));
  for (const item of chosenAgent.work || []) {
    const read = el("button", { class: "secondary small-button", attrs: { type: "button", disabled: !item.conversation_id }, text: "Read live" });
    const move = el("button", { class: "secondary small-button", attrs: { type: "button" }, text: "Move to queue" });
    read.addEventListener("click", () => watch(item.conversation_id));
    move.addEventListener("click", () => moveTask(item.task_id));
    list.append(el("li", {}, [el("span", { class: "wb-work-name", text: `${channelName(item.channel)} · ${item.task_id}` }), read, move]));
  }
  if (!(chosenAgent.work || []).length) list.append(el("li", { class: "muted small", text: "No contacts now." }));
  show($("watch-panel"), false);
}

function messageItem(message) {
  const who = message.direction === "in" ? "Customer" : message.direction === "internal" ? "Note" : "Agent";
  return el("li", { class: message.direction === "in" ? "wb-in" : "wb-out" }, [el("span", { class: "wb-who", text: who }), el("span", { text: message.body })]);
}

async function watch(conversationId) {
  if (watching) await ask("conversation:unwatch", { conversation_id: watching });
  const answer = await ask("conversation:watch", { conversation_id: conversationId });
  if (!answer.ok) { toast(answer.message, "error"); return; }
  watching = conversationId;
  const list = $("watch-messages");
  clear(list);
  for (const message of answer.messages) list.append(messageItem(message));
  show($("watch-panel"), true);
  list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "nearest" });
}

async function moveTask(taskId) {
  const queue = $("transfer-queue").value;
  const answer = await ask("task:transfer", { task_id: taskId, queue, note: "Moved by a supervisor from the wallboard" });
  toast(answer.ok ? `Moved to ${queue}.` : answer.message, answer.ok ? "info" : "error");
}

function ask(event, payload) {
  return new Promise((resolve) => socket.emit(event, payload, (answer) => resolve(answer || { ok: false, message: "no answer" })));
}

async function setState(state) {
  if (!chosenAgent) return;
  const answer = await ask("agent:presence", { agent_id: chosenAgent.id, state, reason: state === "away" ? "supervisor" : null });
  toast(answer.ok ? `${chosenAgent.name} is now ${state}.` : answer.message, answer.ok ? "info" : "error");
  if (answer.ok) $("agent-dialog").close();
}

async function whisper() {
  const text = $("whisper-text").value.trim();
  if (!chosenAgent || !text) return;
  const answer = await ask("whisper", { agent_id: chosenAgent.id, text });
  toast(answer.ok ? `Whispered to ${chosenAgent.name}.` : answer.message, answer.ok ? "info" : "error");
  if (answer.ok) $("agent-dialog").close();
}

function setTv(on) {
  document.body.classList.toggle("tv", on);
  $("tv-mode").setAttribute("aria-pressed", String(on));
  if (on && document.fullscreenElement === null && document.documentElement.requestFullscreen) {
    document.documentElement.requestFullscreen().catch(() => {});
  } else if (!on && document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  }
}

function connect() {
  socket = window.io("/wallboard", { transports: ["websocket"] });
  const link = $("link-state");
  socket.on("connect", () => { link.textContent = "Live"; link.dataset.state = "live"; });
  socket.on("disconnect", () => { link.textContent = "Reconnecting…"; link.dataset.state = "down"; });
  socket.on("connect_error", (error) => {
    link.textContent = "Offline"; link.dataset.state = "down";
    if (String(error && error.message).includes("log in")) window.location.assign("/login?next=/wallboard");
  });
  socket.on("wallboard:snapshot", (snapshot) => apply(snapshot, true));
  socket.on("wallboard:delta", (change) => apply(change, false));
  socket.on("conversation:message", (pushed) => {
    if (pushed.conversation_id === watching) $("watch-messages").append(messageItem(pushed.message));
  });
}

async function main() {
  const serverTime = document.querySelector('meta[name="server-time"]');
  if (serverTime) learnSkew(serverTime.content);
  $("sign-out").addEventListener("click", async () => {
    try {
      const me = await api("GET", "/api/auth/me");
      setCsrf(me.csrf_token);
      await api("POST", "/api/auth/logout");
    } catch (_) { /* the session may be gone already */ }
    window.location.assign("/login?next=/wallboard");
  });
  $("tv-mode").addEventListener("click", () => setTv(!document.body.classList.contains("tv")));
  document.addEventListener("keydown", (event) => {
    if (event.key === "t" && !event.target.closest("input, textarea, select, dialog")) setTv(!document.body.classList.contains("tv"));
  });
  $("agent-filter").addEventListener("change", renderAgents);
  for (const button of document.querySelectorAll(".wb-state-buttons button")) {
    button.addEventListener("click", () => setState(button.dataset.state));
  }
  $("whisper-send").addEventListener("click", whisper);
  $("agent-dialog").addEventListener("close", () => {
    if (watching) ask("conversation:unwatch", { conversation_id: watching });
    watching = null;
  });
  if (new URLSearchParams(window.location.search).get("tv") === "1") document.body.classList.add("tv");
  setInterval(tick, 1000);
  connect();
}

main();
