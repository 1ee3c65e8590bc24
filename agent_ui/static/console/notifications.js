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

const BELL_PATH = "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z";

/** The bell and its panel, built into the page's `#notif` placeholder (one markup for every page). */
function build() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  for (const [name, value] of Object.entries({ class: "notif-bell", viewBox: "0 0 24 24", width: "16", height: "16", "aria-hidden": "true", focusable: "false" })) svg.setAttribute(name, value);
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", BELL_PATH);
  svg.append(path);
  const button = el("button", { class: "ghost-button", attrs: { type: "button", id: "notif-button", "aria-haspopup": "true", "aria-expanded": "false", "aria-controls": "notif-panel", "aria-label": "Notifications" } },
    [svg, el("span", { class: "notif-count hidden", attrs: { id: "notif-count" } })]);
  const panel = el("div", { class: "notif-panel hidden", attrs: { id: "notif-panel", role: "region", "aria-label": "Notifications" } }, [
    el("div", { class: "notif-head" }, [
      el("strong", { text: "Notifications" }),
      el("button", { class: "link-button", text: "Mark all read", attrs: { type: "button", id: "notif-read-all" } }),
    ]),
    el("ul", { class: "notif-list", attrs: { id: "notif-list" } }),
  ]);
  $("notif").replaceChildren(button, panel);
}

/** Wire the bell; `socket` (the /agent socket, if the page has one) brings notifications as they happen. */
export function setupNotifications(socket = null) {
  build();
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
