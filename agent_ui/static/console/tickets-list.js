// The ticket list: filters, saved views (GET/POST/DELETE /api/ticket-views), rows with live SLA badges.
import { $, api, clear, confirmDialog, el, initials, show, toast } from "./util.js";
import {
  FILTER_NAMES, categoryLabel, personName, plainName, priorityChip, since, state, statusChip, tierName, when,
} from "./tickets-common.js";
import { slaBadge } from "./tickets-sla.js";
import { navigate } from "./ticket-view.js";

const form = () => $("filters");

function formFilters() {
  const filters = {};
  for (const name of ["status", "category", "priority", "assignee"]) {
    const value = form().elements[name].value;
    if (value) filters[name] = value;
  }
  if (form().elements.tier.value) filters.tier = Number(form().elements.tier.value);
  if (form().elements.breached.checked) filters.breached = true;
  const q = form().elements.q.value.trim();
  if (q) filters.q = q;
  return filters;
}

function currentFilters() { return { ...state.extras, ...formFilters() }; }

function setForm(filters) {
  for (const name of ["status", "category", "priority", "assignee", "tier"]) {
    const select = form().elements[name];
    const value = filters[name] === undefined || filters[name] === null ? "" : String(filters[name]);
    if (value && ![...select.options].some((o) => o.value === value)) select.append(el("option", { text: value, attrs: { value } }));
    select.value = value;
  }
  form().elements.breached.checked = filters.breached === true;
  form().elements.q.value = filters.q ? String(filters.q) : "";
  state.extras = Object.fromEntries(Object.entries(filters).filter(([key]) => !(key in FILTER_NAMES)));
}

export async function loadList({ append = false } = {}) {
  const mine = ++state.listRequest;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(currentFilters())) params.set(key, String(value));
  params.set("limit", "50");
  if (append) params.set("offset", String(state.tickets.length));
  $("list-status").textContent = "Loading…";
  let page;
  try {
    page = await api("GET", `/api/tickets?${params}`);
  } catch (error) {
    if (mine !== state.listRequest) return;
    $("list-status").textContent = `The tickets could not be loaded: ${error.message}`;
    return;
  }
  if (mine !== state.listRequest) return;
  state.tickets = append ? [...state.tickets, ...page.tickets] : page.tickets;
  state.more = page.more;
  renderList();
}

function renderList() {
  const list = $("ticket-list");
  clear(list);
  const count = state.tickets.length;
  $("list-status").textContent = count ? `${count}${state.more ? "+" : ""} ticket${count === 1 ? "" : "s"}` : "No tickets match these filters.";
  for (const ticket of state.tickets) list.append(el("li", {}, [row(ticket)]));
  show($("list-more"), state.more);
}

function row(ticket) {
  const current = state.current && state.current.id === ticket.id;
  const link = el("a", {
    class: "tk-row", attrs: { href: `/tickets/${ticket.id}`, "data-id": ticket.id, "aria-current": current ? "true" : null },
  }, [
    el("span", { class: "tk-row-top" }, [
      el("span", { class: "tk-row-ref", text: ticket.reference }),
      el("span", { class: "tk-row-subject", text: ticket.subject }),
      slaBadge(ticket.sla),
    ]),
    el("span", { class: "tk-row-bottom" }, [
      statusChip(ticket.status),
      priorityChip(ticket.priority),
      el("span", { class: "tk-tier", text: `L${ticket.tier}`, attrs: { title: tierName(ticket, ticket.tier) } }),
      el("span", { class: "tk-row-customer", text: ticket.customer_name || `Customer ${ticket.customer_id}` }),
      el("span", { class: "tk-row-category", text: categoryLabel(ticket.category) }),
      ticket.assignee_id
        ? el("span", { class: "avatar tk-row-assignee", text: initials(plainName(ticket.assignee_id)), attrs: { title: `Assigned to ${personName(ticket.assignee_id)}`, "aria-hidden": "true" } })
        : null,
      ticket.assignee_id ? el("span", { class: "visually-hidden", text: `assigned to ${personName(ticket.assignee_id)}` }) : null,
      el("span", { class: "tk-row-time", text: since(ticket.updated_at), attrs: { title: `Changed ${when(ticket.updated_at)}` } }),
    ]),
  ]);
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(ticket.id);
  });
  return link;
}

export function markCurrentRow() {
  for (const link of document.querySelectorAll(".tk-row")) {
    if (state.current && Number(link.dataset.id) === state.current.id) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

export async function loadViews(selectId = null) {
  try { state.views = await api("GET", "/api/ticket-views"); } catch (_) { state.views = []; }
  const select = $("view-select");
  const keep = selectId !== null ? String(selectId) : select.value;
  select.replaceChildren(el("option", { text: "Saved views…", attrs: { value: "" } }));
  const own = state.views.filter((v) => v.user_id === state.me.id);
  const shared = state.views.filter((v) => v.user_id !== state.me.id);
  for (const [label, views] of [["Mine", own], ["Shared", shared]]) {
    if (!views.length) continue;
    const group = el("optgroup", { attrs: { label } });
    for (const view of views) group.append(el("option", { text: view.name + (view.shared && label === "Mine" ? " (shared)" : ""), attrs: { value: view.id } }));
    select.append(group);
  }
  select.value = state.views.some((v) => String(v.id) === keep) ? keep : "";
  syncViewButtons();
}

function selectedView() { return state.views.find((v) => String(v.id) === $("view-select").value) || null; }

function syncViewButtons() {
  const view = selectedView();
  const mayDelete = view && (view.user_id === state.me.id || (view.shared && state.me.role === "admin"));
  show($("view-delete"), Boolean(mayDelete));
}

function describeFilters(filters) {
  const parts = Object.entries(filters).map(([key, value]) => {
    const select = form().elements[key];
    const shown = select && select.tagName === "SELECT" ? (select.selectedOptions[0] || {}).textContent || value : value;
    return `${FILTER_NAMES[key] || key}: ${shown === true ? "yes" : shown}`;
  });
  return parts.length ? parts.join(" · ") : "No filters: every ticket you may see.";
}

function openSaveView() {
  $("view-summary").textContent = describeFilters(currentFilters());
  $("view-name").value = "";
  $("view-error").textContent = "";
  $("view-shared").checked = false;
  show($("view-shared-label"), state.me.role !== "agent");
  $("view-dialog").showModal();
  $("view-name").focus();
}

async function saveView(event) {
  event.preventDefault();
  const name = $("view-name").value.trim();
  if (!name) { $("view-error").textContent = "Give the view a name."; $("view-name").focus(); return; }
  try {
    const view = await api("POST", "/api/ticket-views", { name, filters: currentFilters(), shared: $("view-shared").checked });
    $("view-dialog").close();
    await loadViews(view.id);
    toast(`View “${view.name}” saved.`, "ok");
  } catch (error) {
    $("view-error").textContent = error.message;
  }
}

async function deleteView() {
  const view = selectedView();
  if (!view) return;
  if (!(await confirmDialog("Delete this view?", `“${view.name}” will be gone${view.shared ? " for everyone" : ""}.`, "Delete"))) return;
  try {
    await api("DELETE", `/api/ticket-views/${view.id}`);
    $("view-select").value = "";
    await loadViews();
    toast("View deleted.", "ok");
  } catch (error) { toast(`The view could not be deleted: ${error.message}`, "error"); }
}

export function setupList() {
  let typing = null;
  const changed = () => {
    $("view-select").value = "";
    state.extras = {};
    syncViewButtons();
    loadList();
  };
  form().addEventListener("change", (event) => { if (event.target.id !== "view-select" && event.target.id !== "f-q") changed(); });
  form().elements.q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(changed, 300); });
  form().addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(typing); changed(); });
  $("view-select").addEventListener("change", () => {
    const view = selectedView();
    setForm(view ? view.filters : {});
    syncViewButtons();
    loadList();
  });
  $("view-save").addEventListener("click", openSaveView);
  $("view-delete").addEventListener("click", deleteView);
  $("view-form").addEventListener("submit", saveView);
  $("view-cancel").addEventListener("click", () => $("view-dialog").close());
  $("list-more").addEventListener("click", () => loadList({ append: true }));
  // arrow keys move between rows
  $("ticket-list").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const rows = [...document.querySelectorAll(".tk-row")];
    const at = rows.indexOf(document.activeElement);
    const next = rows[Math.min(rows.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)))];
    if (next) { event.preventDefault(); next.focus(); }
  });
}
