// SLA badges: each counts down to its ticket's nearest running clock and is repainted every second from the
// due and warning instants it carries, without asking the server again.
import { el, now } from "./util.js";
import { METRIC, METRIC_SHORT, ms, span, when } from "./tickets-common.js";

/** The clock a ticket's badge shows: the running (or breached, still running) one due first; else a paused
 * one; else a breached one; else the met ones. */
function badgeClock(clocks) {
  const running = clocks.filter((c) => c.due_at && ["running", "warning", "breached"].includes(c.state))
    .sort((a, b) => ms(a.due_at) - ms(b.due_at));
  if (running.length) return running[0];
  return clocks.find((c) => c.state === "paused") || clocks.find((c) => c.state === "breached")
    || clocks.find((c) => c.state === "met_late") || clocks.find((c) => c.state === "met") || null;
}

export function slaBadge(clocks, { long = false } = {}) {
  const chosen = badgeClock(clocks || []);
  if (!chosen) return null;
  const label = (long ? METRIC : METRIC_SHORT)[chosen.metric] || chosen.metric;
  const node = el("span", { class: "sla", attrs: { "data-label": label, "data-server-state": chosen.state } });
  if (chosen.due_at && ["running", "warning", "breached"].includes(chosen.state)) {
    node.dataset.due = String(ms(chosen.due_at));
    if (chosen.warn_at) node.dataset.warn = String(ms(chosen.warn_at));
    node.title = `${METRIC[chosen.metric] || chosen.metric} due ${when(chosen.due_at)}`;
    paintBadge(node);
  } else if (chosen.state === "paused") {
    const left = Math.max(0, chosen.target_seconds - chosen.consumed_seconds);
    node.classList.add("sla-paused");
    node.textContent = long ? `${label} paused · ${span(left)} left` : `Paused · ${span(left)} left`;
    node.title = `${METRIC[chosen.metric] || chosen.metric}: paused while the ticket waits`;
  } else if (chosen.state === "breached") {
    node.classList.add("sla-breached");
    node.textContent = `${label} breached`;
  } else {
    node.classList.add(chosen.state === "met" ? "sla-met" : "sla-met-late");
    node.textContent = chosen.state === "met" ? "SLA met" : "SLA met late";
  }
  return node;
}

function paintBadge(node) {
  const due = Number(node.dataset.due);
  const warn = node.dataset.warn ? Number(node.dataset.warn) : null;
  const t = now();
  let kind;
  let text;
  if (t >= due || node.dataset.serverState === "breached") {
    kind = "breached";
    text = `${node.dataset.label} ${span((t - due) / 1000)} over`;
  } else {
    kind = warn !== null && t >= warn ? "warning" : "running";
    text = `${node.dataset.label} ${span((due - t) / 1000)}`;
  }
  if (node.dataset.kind !== kind) {
    node.classList.remove("sla-running", "sla-warning", "sla-breached");
    node.classList.add(`sla-${kind}`);
    node.dataset.kind = kind;
  }
  if (node.textContent !== text) node.textContent = text;
}

export function tick() { for (const node of document.querySelectorAll(".sla[data-due]")) paintBadge(node); }
