// What the ticket screens share: their state, the workflow's rules as the server applies them, labels, and
// small formatting helpers. Everything people wrote goes in with textContent (util.el).
import { clock, dateOf, el, now, timeOf } from "./util.js";

export const state = {
  me: null,
  categories: new Map(), // code -> category with its tiers
  people: new Map(), // user id -> display name
  views: [],
  extras: {}, // filters of a saved view the form has no control for (kept until the form changes)
  tickets: [],
  more: false,
  listRequest: 0,
  current: null, // the open ticket (its detail)
  openRequest: 0,
  fieldsDirty: false,
  article: null, // the article in the dialog
  suggested: [], // articles suggested for the open ticket
  results: null, // the knowledge search's answer (null: no search)
};

// --- the workflow, as the server's state machine allows it (contact_center/tickets/workflow.py) ---------
export const WORKING = ["new", "open", "escalated", "reopened"];
export const LIVE = [...WORKING, "pending"];
export const ALLOWED = {
  start: ["new", "reopened"], wait: WORKING, resume: ["pending"], resolve: LIVE,
  reopen: ["resolved"], close: ["resolved"], escalate: LIVE,
};
export const ASKS = {
  wait: { title: "Set the ticket waiting", help: "Its SLA clocks pause until it resumes or the customer writes.", ok: "Wait" },
  resolve: { title: "Resolve the ticket", help: "The customer may still come back within the reopen window.", ok: "Resolve" },
  reopen: { title: "Reopen the ticket", help: "Its resolution clock runs again.", ok: "Reopen" },
  escalate: { title: "Escalate the ticket", help: "It is routed to the tier's queue and the tier's people are told.", ok: "Escalate" },
};
export const STATUS = {
  new: "New", open: "Open", pending: "Pending", escalated: "Escalated", resolved: "Resolved", closed: "Closed", reopened: "Reopened",
};
export const METRIC = { first_response: "First response", next_response: "Next response", resolution: "Resolution" };
export const METRIC_SHORT = { first_response: "Response", next_response: "Next reply", resolution: "Resolve" };
export const FILTER_NAMES = {
  status: "Status", category: "Category", priority: "Priority", assignee: "Assignee", tier: "Tier", breached: "Breached", q: "Words",
};

// --- small helpers ----------------------------------------------------------------------------------------
export const ms = (iso) => { const t = Date.parse(iso || ""); return Number.isNaN(t) ? null : t; };
export const capital = (text) => String(text || "").charAt(0).toUpperCase() + String(text || "").slice(1);

/** A duration for a badge: 4:05, 1:02:03, or 2d 5h past a day. */
export function span(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds >= 86400) return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
  return clock(seconds);
}

export function when(iso) {
  const t = ms(iso);
  if (t === null) return "";
  const sameDay = new Date(t).toDateString() === new Date(now()).toDateString();
  return sameDay ? timeOf(iso) : `${dateOf(iso)}, ${timeOf(iso)}`;
}

export function since(iso) {
  const t = ms(iso);
  if (t === null) return "";
  const minutes = Math.floor((now() - t) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ago`;
  return dateOf(iso);
}

export function personName(id) {
  if (id === null || id === undefined) return "Nobody";
  if (state.me && id === state.me.id) return `${state.me.display_name} (you)`;
  return state.people.get(id) || `User ${id}`;
}

export function plainName(id) { return state.me && id === state.me.id ? state.me.display_name : state.people.get(id) || "?"; }

export function categoryLabel(code) { return (state.categories.get(code) || {}).label || capital(String(code || "").replace(/_/g, " ")); }

export function tierName(ticket, tier) {
  const tiers = (state.categories.get(ticket.category) || {}).tiers || [];
  const found = tiers.find((t) => t.tier === tier);
  return found ? found.name : `L${tier}`;
}

export function statusChip(status) { return el("span", { class: `chip tk-status st-${status}`, text: STATUS[status] || status }); }
export function priorityChip(priority) { return el("span", { class: `tk-prio pr-${priority}`, text: capital(priority) }); }
