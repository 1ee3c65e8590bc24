// One ticket as the page shows it: header, history timeline, SLA clocks, fields, conversations, escalations
// and surveys (GET /api/tickets/{id}); changing its fields (PATCH). What people wrote is set as text only.
import { $, api, channelIcon, channelName, clear, el, initials, show, toast } from "./util.js";
import {
  ALLOWED, METRIC, STATUS, categoryLabel, personName, span, state, statusChip, tierName, when,
} from "./tickets-common.js";
import { slaBadge } from "./tickets-sla.js";
import { loadList, markCurrentRow } from "./tickets-list.js";
import { loadSuggestions, renderArticles } from "./ticket-work.js";

export function idFromLocation() {
  const path = /^\/tickets\/(\d+)\/?$/.exec(window.location.pathname);
  const hash = /^#(?:T-)?(\d+)$/i.exec(window.location.hash);
  return path ? Number(path[1]) : hash ? Number(hash[1]) : null;
}

export function navigate(id) {
  if (window.location.pathname !== `/tickets/${id}`) window.history.pushState({ id }, "", `/tickets/${id}`);
  openTicket(id, { focus: true });
}

export async function openTicket(id, { focus = false, quiet = false } = {}) {
  const mine = ++state.openRequest;
  if (id === null) {
    state.current = null;
    show($("ticket"), false); show($("detail-missing"), false); show($("detail-empty"), true);
    markCurrentRow();
    document.title = "Tickets · Contact centre";
    return;
  }
  let detail;
  try {
    detail = await api("GET", `/api/tickets/${id}`);
  } catch (error) {
    if (mine !== state.openRequest) return;
    if (error.status === 404) {
      state.current = null;
      show($("ticket"), false); show($("detail-empty"), false); show($("detail-missing"), true);
      $("detail-missing-text").textContent = `T-${id} does not exist, or it belongs to a team you cannot see.`;
      markCurrentRow();
    } else {
      toast(`The ticket could not be loaded: ${error.message}`, "error");
    }
    return;
  }
  if (mine !== state.openRequest) return;
  const switched = !state.current || state.current.id !== detail.id;
  renderTicket(detail, { switched });
  if (switched || !quiet) loadSuggestions(detail.id);
  if (focus) $("t-subject").focus();
}

export function renderTicket(ticket, { switched = false } = {}) {
  state.current = ticket;
  if (switched) {
    state.suggested = [];
    state.results = null;
    $("kb-q").value = "";
    show($("t-suggested-empty"), false);
  }
  document.title = `${ticket.reference} ${ticket.subject} · Tickets`;
  show($("detail-empty"), false); show($("detail-missing"), false); show($("ticket"), true);
  $("t-ref").textContent = `${ticket.reference} · ${categoryLabel(ticket.category)}`;
  $("t-subject").textContent = ticket.subject;
  $("t-chips").replaceChildren(...[
    statusChip(ticket.status),
    el("span", { class: "tk-tier big", text: `L${ticket.tier} · ${tierName(ticket, ticket.tier)}` }),
    slaBadge(ticket.sla, { long: true }),
  ].filter(Boolean));
  $("t-meta").replaceChildren(
    el("span", { class: "avatar", text: initials(ticket.customer_name || "?"), attrs: { "aria-hidden": "true" } }),
    el("strong", { text: ticket.customer_name || `Customer ${ticket.customer_id}` }),
    ticket.customer_tier ? el("span", { class: `tier tier-${ticket.customer_tier}`, text: ticket.customer_tier }) : "",
    el("span", { text: `opened ${when(ticket.created_at)} (${ticket.source})` }),
    el("span", { text: ticket.assignee_id ? `assigned to ${personName(ticket.assignee_id)}` : "unassigned" }),
    ticket.queue ? el("span", { text: `queue ${ticket.queue}` }) : "",
  );
  for (const button of document.querySelectorAll("#t-actions [data-action]")) {
    show(button, ALLOWED[button.dataset.action].includes(ticket.status));
  }
  const description = $("t-description");
  description.textContent = ticket.description || "No description.";
  description.classList.toggle("muted", !ticket.description);
  renderHistory(ticket);
  renderClocks(ticket);
  if (switched || !state.fieldsDirty) renderFields(ticket);
  renderArticles(ticket);
  renderConversations(ticket);
  renderEscalations(ticket);
  renderSurveys(ticket);
  if (switched) {
    $("composer-text").value = "";
    $("composer-error").textContent = "";
    const scroll = $("t-scroll");
    requestAnimationFrame(() => { scroll.scrollTop = scroll.scrollHeight; });
  }
  markCurrentRow();
}

// the history timeline ---------------------------------------------------------------------------------
const SAID = {
  created: "opened the ticket", start: "started work", wait: "set it waiting", resume: "resumed work",
  resolve: "resolved it", reopen: "reopened it", close: "closed it", customer_replied: "wrote again",
  note: "added an internal note", reply: "replied to the customer", updated: "changed the ticket",
  assigned: "took the ticket", conversation_linked: "linked a conversation", article_linked: "linked an article",
  article_unlinked: "unlinked an article", sla_warning: "SLA warning", sla_breached: "SLA breached",
  survey_sent: "sent a satisfaction survey", survey_answered: "answered the survey", survey_skipped: "sent no survey",
};
const CUSTOMER_ACTIONS = new Set(["customer_replied", "survey_answered"]);

function actorOf(event) {
  if (event.actor_id === null || event.actor_id === undefined) return CUSTOMER_ACTIONS.has(event.action) ? "Customer" : "System";
  return event.actor_name || personName(event.actor_id);
}

function said(event) {
  const data = event.data || {};
  if (event.action === "escalate") return `escalated it to L${data.tier || "?"}${data.cause && data.cause !== "manual" ? ` (${causeText(data.cause)})` : ""}`;
  if (event.action === "sla_warning" || event.action === "sla_breached") {
    return `${SAID[event.action]}: ${METRIC[data.metric] || data.metric || "a clock"}`;
  }
  if (event.action === "article_linked" || event.action === "article_unlinked") return `${SAID[event.action]}: “${data.title || `#${data.article_id}`}”`;
  if (event.action === "conversation_linked") return `${SAID[event.action]} (#${data.conversation_id})`;
  if (event.action === "survey_sent" && data.channel) return `${SAID[event.action]} by ${channelName(data.channel)}`;
  if (event.action === "assigned" && data.tier) return `${SAID[event.action]} at L${data.tier}`;
  return SAID[event.action] || event.action.replace(/_/g, " ");
}

function changeValue(key, value) {
  if (value === null || value === undefined || value === "") return "none";
  if (key === "assignee_id") return personName(value);
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function historyItem(event) {
  const kind = event.action === "note" ? "note" : event.action === "reply" ? "reply"
    : (event.actor_id === null || event.actor_id === undefined) && !CUSTOMER_ACTIONS.has(event.action) ? "system" : "action";
  const head = el("p", { class: "tk-ev-head" }, [
    el("strong", { class: "tk-ev-actor", text: actorOf(event) }),
    el("span", { class: "tk-ev-said", text: ` ${said(event)}` }),
    event.from && event.to && event.from !== event.to
      ? el("span", { class: "tk-ev-move" }, [
        el("span", { class: `tk-st st-${event.from}`, text: STATUS[event.from] || event.from }),
        el("span", { class: "tk-arrow", text: "→", attrs: { "aria-hidden": "true" } }),
        el("span", { class: "visually-hidden", text: " to " }),
        el("span", { class: `tk-st st-${event.to}`, text: STATUS[event.to] || event.to }),
      ])
      : null,
    el("time", { class: "tk-ev-time", text: when(event.at), attrs: { datetime: event.at } }),
  ]);
  const item = el("li", { class: `tk-ev ev-${kind} act-${event.action}` });
  if (kind === "note") item.append(el("span", { class: "note-flag", text: "Internal note" }));
  if (kind === "reply") item.append(el("span", { class: "tk-reply-flag", text: "Reply to the customer" }));
  item.append(head);
  if (event.reason) item.append(el("p", { class: "tk-ev-reason" }, [el("span", { class: "tk-label", text: "Reason " }), el("span", { text: event.reason })]));
  const changes = (event.data || {}).changes;
  if (event.action === "updated" && changes) {
    const list = el("ul", { class: "tk-ev-changes" });
    for (const [key, [before, after]] of Object.entries(changes)) {
      const name = key === "assignee_id" ? "assignee" : key === "team_id" ? "team" : key.replace(/_/g, " ");
      list.append(el("li", { text: `${name}: ${changeValue(key, before)} → ${changeValue(key, after)}` }));
    }
    item.append(list);
  }
  if (event.body) item.append(el("p", { class: "tk-ev-body", text: event.body }));
  return item;
}

function renderHistory(ticket) {
  const list = $("t-history");
  list.replaceChildren(...(ticket.history || []).map(historyItem));
}

// clocks, fields, conversations, escalations, surveys -----------------------------------------------------
function renderClocks(ticket) {
  const list = $("t-clocks");
  clear(list);
  if (!ticket.sla.length) { list.append(el("li", { class: "muted small", text: "No SLA policy applies to this ticket." })); return; }
  for (const c of ticket.sla) {
    const badge = slaBadge([c], { long: false });
    const detail = c.met_at ? `met ${when(c.met_at)}` : c.due_at ? `due ${when(c.due_at)}`
      : c.state === "paused" ? "paused while waiting" : c.breached_at ? `breached ${when(c.breached_at)}` : "";
    list.append(el("li", { class: "tk-clock" }, [
      el("span", { class: "tk-clock-name", text: `${METRIC[c.metric] || c.metric}${c.cycle > 1 ? ` (round ${c.cycle})` : ""}` }),
      badge,
      el("span", { class: "tk-clock-detail muted small", text: `${detail}; target ${span(c.target_seconds)}` }),
    ]));
  }
}

export function renderFields(ticket) {
  const fields = $("fields");
  fields.elements.priority.value = ticket.priority;
  fields.elements.severity.value = ticket.severity;
  const select = $("field-assignee");
  const options = [el("option", { text: "Unassigned", attrs: { value: "" } })];
  const ids = new Set(state.people.keys());
  if (state.me) ids.add(state.me.id);
  if (ticket.assignee_id) ids.add(ticket.assignee_id);
  const people = [...ids].map((id) => [id, personName(id)])
    .sort((a, b) => (b[0] === state.me.id) - (a[0] === state.me.id) || a[1].localeCompare(b[1]));
  for (const [id, name] of people) options.push(el("option", { text: name, attrs: { value: id } }));
  select.replaceChildren(...options);
  select.value = ticket.assignee_id ? String(ticket.assignee_id) : "";
  fields.elements.tags.value = (ticket.tags || []).join(", ");
  state.fieldsDirty = false;
  $("fields-save").disabled = true;
  $("fields-error").textContent = "";
}

export function fieldChanges() {
  const ticket = state.current;
  const fields = $("fields").elements;
  const changes = {};
  if (fields.priority.value !== ticket.priority) changes.priority = fields.priority.value;
  if (fields.severity.value !== ticket.severity) changes.severity = fields.severity.value;
  const assignee = fields.assignee_id.value ? Number(fields.assignee_id.value) : null;
  if (assignee !== (ticket.assignee_id || null)) changes.assignee_id = assignee;
  const tags = [...new Set(fields.tags.value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean))].sort();
  if (tags.join(",") !== [...(ticket.tags || [])].sort().join(",")) changes.tags = tags;
  return changes;
}

export async function saveFields(event) {
  event.preventDefault();
  const changes = fieldChanges();
  if (!Object.keys(changes).length) return;
  $("fields-save").disabled = true;
  try {
    const detail = await api("PATCH", `/api/tickets/${state.current.id}`, changes);
    state.fieldsDirty = false;
    renderTicket(detail);
    renderFields(detail);
    toast("Ticket updated.", "ok");
    loadList();
  } catch (error) {
    $("fields-error").textContent = error.message;
    $("fields-save").disabled = false;
  }
}

function renderConversations(ticket) {
  const list = $("t-conversations");
  clear(list);
  if (!ticket.conversations.length) { list.append(el("li", { class: "muted small", text: "No conversation linked." })); return; }
  for (const c of ticket.conversations) {
    list.append(el("li", { class: "tk-conv" }, [
      channelIcon(c.channel, "small"),
      el("span", { class: "tk-conv-text" }, [
        el("span", { class: "tk-conv-title", text: c.subject || c.snippet || `${channelName(c.channel)} #${c.id}` }),
        el("span", { class: "muted small", text: `${channelName(c.channel)} · ${c.status} · ${when(c.started_at)}` }),
      ]),
    ]));
  }
}

export function causeText(cause) {
  const text = String(cause || "");
  if (text === "manual") return "by hand";
  if (text.startsWith("manual:")) return `by hand to ${text.slice(7)}`;
  const sla = /^sla:([a-z_]+)(?::(\d+))?$/.exec(text);
  if (sla) return `${METRIC[sla[1]] || sla[1]} breached`;
  if (text.startsWith("survey:low")) return "low survey score";
  if (text === "severity") return "severity";
  return text.replace(/[:_]/g, " ");
}

function renderEscalations(ticket) {
  const list = $("t-escalations");
  clear(list);
  if (!ticket.escalations.length) { list.append(el("li", { class: "muted small", text: "Not escalated." })); return; }
  for (const e of ticket.escalations) {
    list.append(el("li", { class: "tk-esc" }, [
      el("p", {}, [
        el("strong", { text: `L${e.from_tier} → L${e.to_tier}` }),
        el("span", { class: "muted", text: ` · ${causeText(e.cause)} · ${e.actor_id ? personName(e.actor_id) : "System"} · ${when(e.at)}` }),
      ]),
      e.reason ? el("p", { class: "tk-esc-reason", text: e.reason }) : null,
    ]));
  }
}

function renderSurveys(ticket) {
  const list = $("t-surveys");
  clear(list);
  if (!ticket.surveys.length) { list.append(el("li", { class: "muted small", text: "No survey sent." })); return; }
  for (const s of ticket.surveys) {
    const answered = s.score !== null && s.score !== undefined;
    list.append(el("li", { class: "tk-survey" }, [
      el("p", {}, [
        el("strong", { text: `Round ${s.round}` }),
        el("span", { class: "muted", text: ` · ${channelName(s.channel)} · sent ${when(s.sent_at)}` }),
      ]),
      answered
        ? el("p", { class: `tk-score score-${s.score}` }, [
          el("span", { class: "tk-stars", text: "★".repeat(s.score) + "☆".repeat(5 - s.score), attrs: { "aria-hidden": "true" } }),
          el("span", { text: ` ${s.score} of 5` }),
        ])
        : el("p", { class: "muted small", text: "No answer yet." }),
      s.comment ? el("p", { class: "tk-ev-body", text: s.comment }) : null,
    ]));
  }
}
