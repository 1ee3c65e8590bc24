// The workspace: one tab per conversation the agent holds, each with its transcript (from `conversation:open`,
// then live `conversation:message`), a composer (composer.js) and the wrap-up form (wrapup.js).
// Message bodies are customers' words: they go in with textContent only.
import { $, channelIcon, channelName, confirmDialog, describe, el, show, timeOf, toast } from "./util.js";
import { call, emit, on, state } from "./state.js";
import { setupComposer } from "./composer.js";
import { setupWrapup, showWrapup } from "./wrapup.js";
import { loadCustomer, showCustomer } from "./customer.js";

const DELIVERY = { queued: "Queued", sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Failed", undelivered: "Not delivered" };

/** Add (or update) a conversation the agent holds; opens its tab. */
export function addConversation(summary, { focus = false } = {}) {
  if (!summary || !summary.id) return null;
  let record = state.conversations.get(summary.id);
  if (record) {
    updateConversation(summary);
  } else {
    record = { id: summary.id, summary, messages: new Map(), loaded: false, customer: null, unread: 0, typingTimer: null };
    state.conversations.set(summary.id, record);
    state.order.push(summary.id);
    buildTab(record);
    buildPanel(record);
    updateConversation(summary);
  }
  refreshEmpty();
  if (focus || !state.activeId) select(summary.id);
  return record;
}

function buildTab(record) {
  const s = record.summary;
  const tab = el("button", {
    class: `tab ch-${s.channel}`,
    attrs: { type: "button", role: "tab", id: `tab-${s.id}`, "aria-controls": `panel-${s.id}`, "aria-selected": "false", tabindex: "-1" },
  }, [
    channelIcon(s.channel, "small"),
    el("span", { class: "tab-text" }, [el("span", { class: "tab-name" }), el("span", { class: "tab-sub" })]),
    el("span", { class: "badge hidden", attrs: { "aria-label": "unread messages" } }),
  ]);
  tab.addEventListener("click", () => select(record.id));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const index = state.order.indexOf(record.id) + (event.key === "ArrowRight" ? 1 : -1);
    const next = state.order[(index + state.order.length) % state.order.length];
    select(next);
    $(`tab-${next}`).focus();
  });
  record.tab = tab;
  $("tabs").append(tab);
}

function buildPanel(record) {
  const s = record.summary;
  const panel = $("panel-template").content.firstElementChild.cloneNode(true);
  panel.id = `panel-${s.id}`;
  panel.setAttribute("aria-labelledby", `tab-${s.id}`);
  panel.classList.add(`ch-${s.channel}`, "hidden");
  panel.querySelector(".channel-badge").replaceChildren(channelIcon(s.channel));
  record.panel = panel;
  record.messagesList = panel.querySelector(".messages");
  record.transcript = panel.querySelector(".transcript");
  panel.querySelector(".transfer-button").addEventListener("click", () => emit("transfer:open", record));
  panel.querySelector(".end-button").addEventListener("click", () => endContact(record));
  $("panels").append(panel);
  setupComposer(record);
  setupWrapup(record);
}

/** A newer summary of a conversation (`conversation:updated`, `conversation:assigned`). */
export function updateConversation(summary) {
  const record = state.conversations.get(summary.id);
  if (!record) return;
  record.summary = { ...record.summary, ...summary };
  const s = record.summary;
  const name = s.customer_name || "Unknown customer";
  record.tab.querySelector(".tab-name").textContent = name;
  record.tab.querySelector(".tab-sub").textContent = wrapping(s) ? "Wrap-up" : channelName(s.channel);
  record.tab.classList.toggle("wrapping", wrapping(s));
  record.panel.querySelector(".panel-name").textContent = name;
  const meta = [channelName(s.channel), s.queue, s.subject, s.language ? s.language.toUpperCase() : null].filter(Boolean).join(" · ");
  record.panel.querySelector(".panel-meta").textContent = meta;
  const chip = record.panel.querySelector(".wrap-chip");
  if (s.complaint) { chip.textContent = "Complaint"; chip.classList.add("chip-danger"); show(chip, true); }
  if (s.status === "closed" || s.status === "ended") record.panel.classList.add("ended");
  record.panel.querySelector(".end-button").disabled = wrapping(s) || s.routing_state === "done";
  record.panel.querySelector(".transfer-button").disabled = wrapping(s) || s.routing_state === "done";
  if (wrapping(s)) showWrapup(record);
  // wrapped: the tab closes (the protocol also names `conversation:removed` with reason "wrapped" for this)
  if (s.routing_state === "done" && !record.closing) {
    record.closing = setTimeout(() => removeConversation(record.id), 1200);
  }
}

export function wrapping(summary) { return summary.routing_state === "wrapping" || summary.routing_state === "wrap_up"; }

/** Show a conversation's tab; load its transcript and customer the first time. */
export async function select(id) {
  const record = state.conversations.get(id);
  if (!record) return;
  state.activeId = id;
  for (const other of state.conversations.values()) {
    const active = other.id === id;
    other.tab.setAttribute("aria-selected", String(active));
    other.tab.tabIndex = active ? 0 : -1;
    other.tab.classList.toggle("active", active);
    show(other.panel, active);
  }
  record.unread = 0;
  badge(record);
  if (!record.loaded) await load(record);
  else if (!state.offers.size) showCustomer(record.customer);
  scrollToEnd(record);
  markRead(record);
  emit("conversation:selected", record);
}

async function load(record) {
  record.loaded = true;
  const answer = await call("conversation:open", { conversation_id: record.id });
  if (!answer.ok) {
    record.loaded = false;
    toast(`The conversation could not be opened: ${describe(answer)}`, "error");
    if (!state.offers.size && record.summary.customer_id) record.customer = await loadCustomer(record.summary.customer_id);
    return;
  }
  if (answer.conversation) updateConversation(answer.conversation);
  for (const message of answer.messages || []) appendMessage(record, message, { quiet: true });
  record.customer = answer.customer || null;
  if (!state.offers.size && state.activeId === record.id) showCustomer(record.customer);
  scrollToEnd(record);
  markRead(record);
  emit("conversation:loaded", record);
}

/** Put one message in a transcript (once: messages are keyed by id). */
export function appendMessage(record, message, { quiet = false } = {}) {
  if (!message || record.messages.has(message.id)) {
    if (message && record.messages.has(message.id)) updateDelivery(record, message);
    return;
  }
  record.messages.set(message.id, message);
  const list = record.messagesList;
  const item = messageItem(record, message);
  // keep order by id (a late message from another tab may arrive after a newer one)
  const after = [...list.children].find((li) => Number(li.dataset.id) > message.id);
  list.insertBefore(item, after || null);
  if (!quiet) {
    if (state.activeId !== record.id && message.direction === "in") { record.unread += 1; badge(record); }
    if (message.direction === "in") {
      setTyping(record, false);
      emit("conversation:customer-wrote", record);
    }
    scrollToEnd(record);
    if (state.activeId === record.id) markRead(record);
  }
}

function messageItem(record, message) {
  const direction = ["in", "out", "internal"].includes(message.direction) ? message.direction : "system";
  const system = message.author_kind === "system";
  const item = el("li", { class: `message dir-${system ? "system" : direction}`, attrs: { "data-id": message.id } });
  const bubble = el("div", { class: "bubble" });
  const attributes = message.attributes || {};
  if (message.channel === "email" && attributes.subject) bubble.append(el("p", { class: "email-subject-line", text: attributes.subject }));
  bubble.append(el("p", { class: "body", text: message.body || "" }));
  if (attributes.quoted) bubble.append(el("p", { class: "quoted-note", text: "Quoted text hidden" }));
  for (const file of message.media || []) {
    const name = (file && (file.name || file.filename || file.content_type)) || "attachment";
    bubble.append(el("p", { class: "attachment", text: `📎 ${name}` }));
  }
  const who = direction === "in" ? record.summary.customer_name || "Customer"
    : direction === "internal" ? "Internal note"
      : message.author_id && state.me && message.author_id === state.me.id ? "You" : system ? "" : "Agent";
  const meta = el("p", { class: "meta" }, [el("span", { class: "who", text: who }), el("span", { text: ` · ${timeOf(message.created_at)}` })]);
  if (direction === "out" && message.delivery_status) meta.append(el("span", { class: `delivery d-${message.delivery_status}`, text: ` · ${DELIVERY[message.delivery_status] || message.delivery_status}` }));
  if (direction === "internal") item.prepend(el("span", { class: "note-flag", text: "Only agents see this", attrs: { "aria-hidden": "true" } }));
  item.append(bubble, meta);
  return item;
}

function updateDelivery(record, message) {
  const li = record.messagesList.querySelector(`li[data-id="${Number(message.id)}"] .delivery`);
  if (li && message.delivery_status) {
    li.className = `delivery d-${message.delivery_status}`;
    li.textContent = ` · ${DELIVERY[message.delivery_status] || message.delivery_status}`;
  }
}

function badge(record) {
  const node = record.tab.querySelector(".badge");
  node.textContent = record.unread > 9 ? "9+" : String(record.unread);
  show(node, record.unread > 0);
}

function scrollToEnd(record) { record.transcript.scrollTop = record.transcript.scrollHeight; }

function markRead(record) {
  if (record.summary.channel !== "chat" || document.hidden) return;
  const last = [...record.messages.values()].filter((m) => m.direction === "in").pop();
  if (!last || record.lastRead === last.id) return;
  record.lastRead = last.id;
  call("read", { conversation_id: record.id, message_id: last.id });
}

export function setTyping(record, typing) {
  const node = record.panel.querySelector(".typing");
  node.querySelector(".typing-text").textContent = `${record.summary.customer_name || "The customer"} is typing`;
  show(node, typing);
  clearTimeout(record.typingTimer);
  if (typing) record.typingTimer = setTimeout(() => show(node, false), 8000);
}

/** Close a tab (transferred or wrapped). */
export function removeConversation(id) {
  const record = state.conversations.get(id);
  if (!record) return;
  clearTimeout(record.closing);
  if (record.wrapup) clearInterval(record.wrapup.timer);
  record.tab.remove();
  record.panel.remove();
  state.conversations.delete(id);
  state.order = state.order.filter((x) => x !== id);
  if (state.activeId === id) {
    state.activeId = null;
    if (state.order.length) select(state.order[state.order.length - 1]);
    else if (!state.offers.size) showCustomer(null);
  }
  refreshEmpty();
  emit("conversation:closed", id);
}

export async function endContact(record = state.conversations.get(state.activeId)) {
  if (!record || wrapping(record.summary)) return;
  const ok = await confirmDialog(
    "End this contact?",
    `The ${channelName(record.summary.channel).toLowerCase()} with ${record.summary.customer_name || "the customer"} ends and wrap-up starts.`,
    "End contact",
  );
  if (!ok) return;
  const answer = await call("task:complete", { task_id: record.summary.task_id });
  if (!answer.ok) { toast(describe(answer), "error"); return; }
  updateConversation({ id: record.id, routing_state: "wrapping" });
}

function refreshEmpty() {
  const none = state.conversations.size === 0;
  show($("empty"), none);
  show($("tabs"), !none);
  const available = state.presence.state === "available";
  const ringing = state.offers.size > 0;
  $("empty-title").textContent = ringing ? "A contact is ringing" : available ? "You're all caught up" : "No contacts yet";
  $("empty-text").textContent = ringing
    ? "Accept it with Alt+A (or Reject with Alt+R); the customer's record is on the left."
    : available
      ? "Contacts ring here the moment they are routed to you."
      : "Set yourself Available and contacts will ring here.";
  show($("empty-available"), !available && state.connected);
}

export function setupWorkspace() {
  on("presence", refreshEmpty);
  on("connected", refreshEmpty);
  on("offer:shown", refreshEmpty);
  on("offer:gone", refreshEmpty);
  on("customer:restore", () => {
    const record = state.conversations.get(state.activeId);
    showCustomer(record ? record.customer : null);
  });
  on("customer:changed", (data) => {
    for (const record of state.conversations.values()) {
      if (record.customer && data.customer && record.customer.customer.id === data.customer.id) record.customer = data;
    }
  });
  document.addEventListener("visibilitychange", () => {
    const record = state.conversations.get(state.activeId);
    if (record && !document.hidden) markRead(record);
  });
  refreshEmpty();
}
