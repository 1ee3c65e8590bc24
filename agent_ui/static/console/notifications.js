// The notification bell in the top bar of the console and the ticket screens: the caller's unread console
// notifications (SLA warnings and breaches, escalations, assignments, reminders, low ratings), live through
// the /agent socket where the page has one and refreshed every minute otherwise. A click marks one read and
// opens its ticket. Titles and bodies are set as text.
import { $, api, el, toast } from "./util.js";

const REFRESH_MS = 60_000;
const items = new Map(); // id -> notification

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

function render() {
  const list = $("notif-list");
  list.replaceChildren();
  const unread = [...items.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  $("notif-count").textContent = unread.length ? String(unread.length) : "";
  $("notif-count").classList.toggle("hidden", unread.length === 0);
  $("notif-button").setAttribute("aria-label", `Notifications: ${unread.length} unread`);
  if (!unread.length) {
    list.append(el("li", { class: "notif-empty", text: "Nothing new." }));
    return;
  }
  for (const item of unread) {
    const button = el("button", { class: `notif-item notif-${item.kind}`, attrs: { type: "button" } }, [
      el("span", { class: "notif-title", text: item.title }),
      el("span", { class: "notif-body", text: item.body || "" }),
      el("span", { class: "notif-when", text: when(item.created_at) }),
    ]);
    button.addEventListener("click", () => open(item));
    list.append(el("li", {}, [button]));
  }
}

async function markRead(item) {
  items.delete(item.id);
  render();
  try { await api("POST", `/api/notifications/${item.id}/read`); } catch (_) { /* shown again on refresh */ }
}

async function open(item) {
  await markRead(item);
  if (item.ticket_id) window.location.assign(`/tickets/${item.ticket_id}`);
}

async function refresh() {
  try {
    const unread = await api("GET", "/api/notifications?channel=console&unread=true&limit=30");
    items.clear();
    for (const item of unread) items.set(item.id, item);
    render();
  } catch (_) { /* offline for a moment: the next refresh tries again */ }
}

function toggle(force) {
  const panel = $("notif-panel");
  const opening = force === undefined ? panel.classList.contains("hidden") : force;
  panel.classList.toggle("hidden", !opening);
  $("notif-button").setAttribute("aria-expanded", String(opening));
}

/** Wire the bell; `socket` (the /agent socket, if the page has one) brings notifications as they happen. */
export function setupNotifications(socket = null) {
  $("notif-button").addEventListener("click", () => toggle());
  $("notif-read-all").addEventListener("click", async () => {
    for (const item of [...items.values()]) await markRead(item);
    toggle(false);
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") toggle(false); });
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#notif-panel, #notif-button")) toggle(false);
  });
  if (socket) {
    socket.on("notification", (item) => {
      items.set(item.id, { ...item, channel: "console" });
      render();
      toast(item.title, item.kind === "sla_breach" || item.kind === "survey_low" ? "error" : "info", 8000);
    });
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
}
