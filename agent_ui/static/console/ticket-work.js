// Working on the open ticket: workflow actions (reasons asked where the server needs one), internal notes and
// public replies, and knowledge (suggestions, search, link and unlink, the article's sanitised HTML).
import { $, api, confirmDialog, el, show, toast } from "./util.js";
import { ASKS, STATUS, capital, state, tierName } from "./tickets-common.js";
import { fieldChanges, idFromLocation, openTicket, renderTicket, saveFields } from "./ticket-view.js";
import { loadList } from "./tickets-list.js";

// --- workflow actions ----------------------------------------------------------------------------------
function askReason(action) {
  const ask = ASKS[action];
  const ticket = state.current;
  $("reason-title").textContent = ask.title;
  $("reason-help").textContent = ask.help;
  $("reason-ok").textContent = ask.ok;
  $("reason-text").value = "";
  $("reason-error").textContent = "";
  const tierSelect = $("reason-tier");
  show($("reason-tier-label"), action === "escalate");
  if (action === "escalate") {
    const options = [];
    for (let tier = ticket.tier + 1; tier <= 3; tier += 1) {
      options.push(el("option", { text: `L${tier} · ${tierName(ticket, tier)}${tier === ticket.tier + 1 ? " (next)" : ""}`, attrs: { value: tier } }));
    }
    if (!options.length) options.push(el("option", { text: `L${ticket.tier} · already the highest tier`, attrs: { value: "" } }));
    tierSelect.replaceChildren(...options);
  }
  const dialog = $("reason-dialog");
  dialog.showModal();
  $("reason-text").focus();
  return new Promise((resolve) => {
    const submit = (event) => {
      event.preventDefault();
      const reason = $("reason-text").value.trim();
      if (!reason) { $("reason-error").textContent = "Say why: the reason goes into the history."; $("reason-text").focus(); return; }
      done({ reason, toTier: action === "escalate" && tierSelect.value ? Number(tierSelect.value) : null });
    };
    const cancel = () => done(null);
    const done = (answer) => {
      $("reason-form").removeEventListener("submit", submit);
      $("reason-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    $("reason-form").addEventListener("submit", submit);
    $("reason-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
  });
}

async function act(action, button) {
  const ticket = state.current;
  if (!ticket) return;
  let body = { action };
  let path = `/api/tickets/${ticket.id}/actions`;
  if (ASKS[action]) {
    const answer = await askReason(action);
    if (!answer) { button.focus(); return; }
    if (action === "escalate") {
      path = `/api/tickets/${ticket.id}/escalate`;
      body = { reason: answer.reason };
      const next = ticket.tier + 1;
      if (answer.toTier && answer.toTier !== next) body.to_tier = answer.toTier;
    } else {
      body.reason = answer.reason;
    }
  } else if (action === "close") {
    if (!(await confirmDialog("Close the ticket?", "A closed ticket is final: if the customer writes again, a new ticket opens.", "Close ticket"))) { button.focus(); return; }
  }
  button.disabled = true;
  try {
    const detail = await api("POST", path, body);
    renderTicket(detail);
    toast(`${detail.reference} is ${STATUS[detail.status] ? STATUS[detail.status].toLowerCase() : detail.status}${action === "escalate" ? ` at L${detail.tier}` : ""}.`, "ok");
    loadList();
  } catch (error) {
    toast(`${capital(action)} did not work: ${error.message}`, "error", 8000);
  } finally {
    button.disabled = false;
    const visible = [...document.querySelectorAll("#t-actions [data-action]:not(.hidden)")];
    (visible.includes(button) ? button : visible[0] || $("t-subject")).focus();
  }
}

// --- notes and replies -----------------------------------------------------------------------------------
function composerKind() { return $("composer").querySelector("input[name=kind]:checked").value; }

export function syncComposer() {
  const note = composerKind() === "note";
  $("composer").classList.toggle("note-mode", note);
  $("composer-label").textContent = note ? "Internal note" : "Reply to the customer";
  $("composer-text").placeholder = note ? "A note for colleagues: the customer never sees it"
    : "A reply to the customer, sent through their latest written conversation";
  $("composer-send").textContent = note ? "Add note" : "Send reply";
  $("composer-error").textContent = "";
}

async function send(event) {
  event.preventDefault();
  const ticket = state.current;
  const text = $("composer-text").value.trim();
  const error = $("composer-error");
  if (!ticket) return;
  if (!text) { error.textContent = "Write something first."; $("composer-text").focus(); return; }
  const note = composerKind() === "note";
  const button = $("composer-send");
  button.disabled = true;
  error.textContent = "";
  try {
    await api("POST", `/api/tickets/${ticket.id}/${note ? "notes" : "replies"}`, { text });
    $("composer-text").value = "";
    toast(note ? "Note added." : "Reply sent.", "ok");
    await openTicket(ticket.id, { quiet: true });
    const scroll = $("t-scroll");
    scroll.scrollTop = scroll.scrollHeight;
    loadList();
  } catch (failure) {
    error.textContent = `${note ? "Not added" : "Not sent"}: ${failure.message}`;
  } finally {
    button.disabled = false;
    $("composer-text").focus();
  }
}

// --- knowledge -------------------------------------------------------------------------------------------
function linkedIds() { return new Set((state.current ? state.current.articles : []).map((a) => a.id)); }

function articleItem(article, { linked = false, unlink = false } = {}) {
  const open = el("button", { class: "kb-item tk-article-open", attrs: { type: "button" } }, [
    el("span", { class: "kb-title", text: article.title }),
    article.excerpt ? el("span", { class: "kb-excerpt", text: article.excerpt }) : null,
  ]);
  open.addEventListener("click", () => openArticle(article.id));
  let side;
  if (unlink) {
    side = el("button", { class: "link-button tk-unlink", text: "Unlink", attrs: { type: "button", "aria-label": `Unlink ${article.title}` } });
    side.addEventListener("click", () => unlinkArticle(article.id));
  } else if (linked) {
    side = el("span", { class: "chip small chip-ok", text: "Linked" });
  } else {
    side = el("button", { class: "secondary small-button tk-link", text: "Link", attrs: { type: "button", "aria-label": `Link ${article.title}` } });
    side.addEventListener("click", () => linkArticle(article.id));
  }
  return el("li", { class: "tk-article" }, [open, side]);
}

export function renderArticles(ticket) {
  const linked = ticket.articles || [];
  $("t-linked").replaceChildren(...linked.map((a) => articleItem(a, { unlink: true })));
  show($("t-linked-empty"), linked.length === 0);
  // the suggestions and search results mark what is linked now
  const ids = linkedIds();
  $("t-suggested").replaceChildren(...state.suggested.map((a) => articleItem(a, { linked: ids.has(a.id) })));
  if (state.results) {
    $("kb-results").replaceChildren(...(state.results.length
      ? state.results.map((a) => articleItem(a, { linked: ids.has(a.id) }))
      : [el("li", { class: "muted small", text: "No article matches." })]));
  } else {
    $("kb-results").replaceChildren();
  }
}

export async function loadSuggestions(ticketId) {
  let found = [];
  try { found = await api("GET", `/api/tickets/${ticketId}/suggestions`); } catch (_) { found = []; }
  if (!state.current || state.current.id !== ticketId) return;
  state.suggested = found;
  show($("t-suggested-empty"), found.length === 0);
  renderArticles(state.current);
}

async function searchArticles(event) {
  event.preventDefault();
  const q = $("kb-q").value.trim();
  try {
    state.results = q ? await api("GET", `/api/knowledge/articles?${new URLSearchParams({ q, limit: "8" })}`) : null;
  } catch (error) { toast(`The search did not work: ${error.message}`, "error"); return; }
  if (state.current) renderArticles(state.current);
}

async function openArticle(id) {
  try {
    state.article = await api("GET", `/api/knowledge/articles/${id}`);
  } catch (error) { toast(`The article could not be opened: ${error.message}`, "error"); return; }
  $("article-title").textContent = state.article.title || "Article";
  // sanitised by the server (the knowledge module); this container holds nothing else
  $("article-body").innerHTML = state.article.html || "";
  if (!state.article.html) $("article-body").textContent = state.article.body || "";
  const linked = linkedIds().has(state.article.id);
  $("article-link").disabled = linked || !state.current;
  $("article-link").textContent = linked ? "Linked to this ticket" : "Link to ticket";
  $("article-dialog").showModal();
}

async function linkArticle(articleId) {
  const ticket = state.current;
  if (!ticket) return;
  try {
    const answer = await api("POST", `/api/tickets/${ticket.id}/articles`, { article_id: articleId });
    toast(answer.linked ? "Article linked." : "It was linked already.", "ok");
    await openTicket(ticket.id, { quiet: true });
  } catch (error) { toast(`The article could not be linked: ${error.message}`, "error"); }
}

async function unlinkArticle(articleId) {
  const ticket = state.current;
  if (!ticket) return;
  try {
    await api("DELETE", `/api/tickets/${ticket.id}/articles/${articleId}`);
    toast("Article unlinked.", "ok");
    await openTicket(ticket.id, { quiet: true });
  } catch (error) { toast(`The article could not be unlinked: ${error.message}`, "error"); }
}

export function setupWork() {
  for (const button of document.querySelectorAll("#t-actions [data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action, button));
  }
  $("fields").addEventListener("input", () => {
    state.fieldsDirty = true;
    $("fields-save").disabled = !Object.keys(fieldChanges()).length;
  });
  $("fields").addEventListener("change", () => {
    state.fieldsDirty = true;
    $("fields-save").disabled = !Object.keys(fieldChanges()).length;
  });
  $("fields").addEventListener("submit", saveFields);
  $("composer").addEventListener("change", (event) => { if (event.target.name === "kind") syncComposer(); });
  $("composer").addEventListener("submit", send);
  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  $("kb-search").addEventListener("submit", searchArticles);
  $("article-close").addEventListener("click", () => $("article-dialog").close());
  $("article-link").addEventListener("click", async () => {
    if (!state.article) return;
    $("article-dialog").close();
    await linkArticle(state.article.id);
  });
  window.addEventListener("popstate", () => openTicket(idFromLocation()));
  window.addEventListener("hashchange", () => { const id = idFromLocation(); if (id !== null) openTicket(id); });
}
