// Transfer: to a queue or to an agent, with a note for whoever takes it next (`task:transfer`).
import { $, apiOptional, describe, el, show, toast } from "./util.js";
import { call, on, state } from "./state.js";

let target = null; // the conversation record being transferred
let loaded = false;

async function loadTargets() {
  if (loaded) return;
  loaded = true;
  const queues = await apiOptional("/api/queues", []).catch(() => []);
  const queueSelect = $("transfer-queue");
  queueSelect.replaceChildren();
  for (const q of Array.isArray(queues) ? queues : []) queueSelect.append(el("option", { text: q.name, attrs: { value: q.name } }));
  // every colleague who takes contacts, with their presence (GET /api/routing/agents)
  const people = await apiOptional("/api/routing/agents", []).catch(() => []);
  const agentSelect = $("transfer-agent");
  agentSelect.replaceChildren();
  const order = { available: 0, away: 1, offline: 2 };
  const colleagues = (Array.isArray(people) ? people : [])
    .filter((person) => !(state.me && person.id === state.me.id))
    .sort((a, b) => (order[a.presence] ?? 3) - (order[b.presence] ?? 3) || a.display_name.localeCompare(b.display_name));
  for (const person of colleagues) {
    const label = `${person.display_name} (${person.presence}${person.reason ? `: ${person.reason}` : ""})`;
    agentSelect.append(el("option", { text: label, attrs: { value: person.id } }));
  }
  const agentChoice = document.querySelector('#transfer-form input[value="agent"]');
  agentChoice.disabled = agentSelect.options.length === 0;
  agentChoice.closest("label").title = agentChoice.disabled ? "No colleagues to choose from" : "";
}

function choice() { return document.querySelector('#transfer-form input[name="target"]:checked').value; }

function syncChoice() {
  show($("transfer-queue-label"), choice() === "queue");
  show($("transfer-agent-label"), choice() === "agent");
}

export async function openTransfer(record) {
  if (!record) return;
  target = record;
  $("transfer-error").textContent = "";
  $("transfer-note").value = "";
  await loadTargets();
  syncChoice();
  $("transfer-dialog").showModal();
}

export function setupTransfer() {
  on("transfer:open", openTransfer);
  document.querySelectorAll('#transfer-form input[name="target"]').forEach((input) => input.addEventListener("change", syncChoice));
  $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
  $("transfer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!target) return;
    const payload = { task_id: target.summary.task_id };
    if (choice() === "queue") {
      if (!$("transfer-queue").value) { $("transfer-error").textContent = "Choose a queue."; return; }
      payload.queue = $("transfer-queue").value;
    } else {
      if (!$("transfer-agent").value) { $("transfer-error").textContent = "Choose an agent."; return; }
      payload.agent_id = Number($("transfer-agent").value);
    }
    const note = $("transfer-note").value.trim();
    if (note) payload.note = note;
    $("transfer-submit").disabled = true;
    const answer = await call("task:transfer", payload);
    $("transfer-submit").disabled = false;
    if (!answer.ok) { $("transfer-error").textContent = describe(answer); return; }
    $("transfer-dialog").close();
    toast(`Transferred ${target.summary.customer_name || "the contact"}.`, "ok");
  });
}
