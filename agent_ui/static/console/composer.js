// The composer of a conversation: reply on the conversation's channel (chat with typing; SMS with a live
// segment count; email with subject, cc and quoting) or write an internal note; "/" + shortcut for canned replies.
import { api, clear, describe, el, show, toast } from "./util.js";
import { call, state } from "./state.js";
import { appendMessage } from "./workspace.js";

// GSM 03.38: the basic set, and the extension set whose characters take two septets.
const GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** Segments an SMS takes: GSM-7 (160 per message, 153 when split) or UCS-2 (70, 67 when split). */
export function smsSegments(text) {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXTENDED.includes(ch)) septets += 2;
    else { gsm = false; break; }
  }
  if (gsm) {
    const segments = septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153);
    return { encoding: "GSM-7", units: septets, segments, perSegment: septets <= 160 ? 160 : 153 };
  }
  const units = text.length; // UTF-16 code units: what UCS-2 counts (an emoji is two)
  const segments = units <= 70 ? 1 : Math.ceil(units / 67);
  return { encoding: "UCS-2", units, segments, perSegment: units <= 70 ? 70 : 67 };
}

const TYPING_IDLE_MS = 3000;

export function setupComposer(record) {
  const form = record.panel.querySelector(".composer");
  const text = form.querySelector(".composer-text");
  const channel = record.summary.channel;
  const modes = form.querySelectorAll(".composer-modes input");
  const uid = `c${record.id}`;
  text.id = `${uid}-text`;
  form.querySelector(".composer-label").setAttribute("for", text.id);
  modes.forEach((input) => { input.name = `${uid}-mode`; });
  form.querySelector(".composer-channel").textContent = channel === "voice" ? "Calls are answered on the phone; notes stay internal" : "";
  record.composer = { form, text, mode: channel === "voice" ? "note" : "reply", typing: false, typingTimer: null };

  const canReply = channel !== "voice";
  if (!canReply) {
    modes[0].disabled = true;
    modes[1].checked = true;
  }
  modes.forEach((input) => input.addEventListener("change", () => setMode(record, input.value)));
  show(form.querySelector(".email-fields"), channel === "email");
  show(form.querySelector(".quote-option"), channel === "email");
  show(form.querySelector(".sms-count"), channel === "sms");
  form.querySelector(".composer-hint").textContent = channel === "chat" || channel === "sms"
    ? "Enter to send · Shift+Enter for a new line" : "Ctrl+Enter to send";
  if (channel === "email") {
    const subject = record.summary.subject || "";
    form.querySelector(".email-subject").value = subject && !/^re:/i.test(subject) ? `Re: ${subject}` : subject;
  }
  setMode(record, record.composer.mode);

  text.addEventListener("input", () => {
    updateCount(record);
    slashMenu(record);
    if (channel === "chat" && record.composer.mode === "reply") typing(record, text.value.length > 0);
  });
  text.addEventListener("keydown", (event) => {
    if (slashKey(record, event)) return;
    const enterSends = (channel === "chat" || channel === "sms") && record.composer.mode === "reply";
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey || (enterSends && !event.shiftKey))) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  text.addEventListener("blur", () => setTimeout(() => closeSlash(record), 150));
  form.addEventListener("submit", (event) => { event.preventDefault(); send(record); });
}

export function setMode(record, mode) {
  const c = record.composer;
  if (record.summary.channel === "voice") mode = "note";
  c.mode = mode;
  const form = c.form;
  form.querySelectorAll(".composer-modes input").forEach((input) => { input.checked = input.value === mode; });
  form.classList.toggle("note-mode", mode === "note");
  c.text.placeholder = mode === "note"
    ? "Write an internal note: only agents see it"
    : "Write a reply… (type / for canned replies)";
  form.querySelector(".send-button").textContent = mode === "note" ? "Add note" : "Send";
  show(form.querySelector(".email-fields"), mode === "reply" && record.summary.channel === "email");
  show(form.querySelector(".quote-option"), mode === "reply" && record.summary.channel === "email");
  show(form.querySelector(".sms-count"), mode === "reply" && record.summary.channel === "sms");
  updateCount(record);
}

export function toggleMode(record) { setMode(record, record.composer.mode === "note" ? "reply" : "note"); record.composer.text.focus(); }

function updateCount(record) {
  if (record.summary.channel !== "sms") return;
  const counter = record.composer.form.querySelector(".sms-count");
  const { encoding, units, segments, perSegment } = smsSegments(record.composer.text.value);
  counter.textContent = `${units}/${perSegment * Math.max(1, segments)} · ${segments} segment${segments === 1 ? "" : "s"} · ${encoding}`;
  counter.classList.toggle("warn", segments > 1);
}

function typing(record, on) {
  const c = record.composer;
  clearTimeout(c.typingTimer);
  if (on) c.typingTimer = setTimeout(() => typing(record, false), TYPING_IDLE_MS);
  if (c.typing === on) return;
  c.typing = on;
  call("typing", { conversation_id: record.id, typing: on });
}

async function send(record) {
  const c = record.composer;
  const form = c.form;
  const body = c.text.value.trim();
  const error = form.querySelector(".composer-error");
  error.textContent = "";
  if (!body) { c.text.focus(); return; }
  const button = form.querySelector(".send-button");
  button.disabled = true;
  let answer;
  if (c.mode === "note") {
    answer = await call("note:add", { conversation_id: record.id, text: body });
  } else {
    const payload = { conversation_id: record.id, text: body };
    if (record.summary.channel === "email") {
      payload.subject = form.querySelector(".email-subject").value.trim() || undefined;
      const cc = form.querySelector(".email-cc").value.split(/[,;\s]+/).map((s) => s.trim()).filter(Boolean);
      if (cc.length) payload.cc = cc;
      payload.quote = form.querySelector(".email-quote").checked;
    }
    answer = await call("reply", payload);
  }
  button.disabled = false;
  if (!answer.ok) {
    error.textContent = describe(answer);
    return;
  }
  if (record.summary.channel === "chat") typing(record, false);
  c.text.value = "";
  updateCount(record);
  if (answer.message) appendMessage(record, answer.message);
  c.text.focus();
}

// --- canned replies: "/" + shortcut ---------------------------------------------------------------------
function slashToken(text) {
  const upto = text.value.slice(0, text.selectionStart);
  const match = /(^|\s)\/([\w-]*)$/.exec(upto);
  return match ? { query: match[2].toLowerCase(), start: upto.length - match[2].length - 1, end: upto.length } : null;
}

function slashMenu(record) {
  const c = record.composer;
  const menu = c.form.querySelector(".slash-menu");
  const token = c.mode === "reply" ? slashToken(c.text) : null;
  const replies = token ? state.lists.canned.filter((r) =>
    (r.shortcut || "").replace(/^\//, "").toLowerCase().startsWith(token.query) || (r.title || "").toLowerCase().includes(token.query)).slice(0, 8) : [];
  if (!token || !replies.length) { closeSlash(record); return; }
  c.slash = { token, replies, index: 0 };
  clear(menu);
  replies.forEach((reply, i) => {
    const item = el("li", { class: "slash-item", attrs: { role: "option", id: `${c.text.id}-opt-${i}`, "aria-selected": String(i === 0) } }, [
      el("span", { class: "shortcut", text: `/${(reply.shortcut || "").replace(/^\//, "")}` }),
      el("span", { class: "slash-title", text: reply.title }),
    ]);
    item.addEventListener("mousedown", (event) => { event.preventDefault(); pick(record, i); });
    menu.append(item);
  });
  show(menu, true);
  c.text.setAttribute("aria-activedescendant", `${c.text.id}-opt-0`);
}

function closeSlash(record) {
  const c = record.composer;
  c.slash = null;
  show(c.form.querySelector(".slash-menu"), false);
  c.text.removeAttribute("aria-activedescendant");
}

function slashKey(record, event) {
  const s = record.composer.slash;
  if (!s) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    s.index = (s.index + (event.key === "ArrowDown" ? 1 : -1) + s.replies.length) % s.replies.length;
    const items = record.composer.form.querySelectorAll(".slash-item");
    items.forEach((item, i) => item.setAttribute("aria-selected", String(i === s.index)));
    record.composer.text.setAttribute("aria-activedescendant", items[s.index].id);
    return true;
  }
  if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); pick(record, s.index); return true; }
  if (event.key === "Escape") { event.preventDefault(); closeSlash(record); return true; }
  return false;
}

async function pick(record, index) {
  const s = record.composer.slash;
  if (!s) return;
  const reply = s.replies[index];
  const { start, end } = s.token;
  closeSlash(record);
  await insertCanned(record, reply, { start, end });
}

/** The canned reply rendered for this conversation (placeholders filled by the server), put in the composer. */
export async function insertCanned(record, reply, range) {
  const text = record.composer.text;
  let rendered = null;
  if (reply.id !== null && reply.id !== undefined) try {
    const answer = await api("POST", `/api/canned-replies/${reply.id}/render`, { conversation_id: record.id });
    rendered = answer && typeof answer.text === "string" ? answer.text : null;
  } catch (error) {
    if (error.status !== 404) toast(`The canned reply could not be filled in: ${error.message}`, "error");
  }
  if (rendered === null) rendered = fillLocally(reply.body || "", record);
  const value = text.value;
  const from = range ? range.start : text.selectionStart;
  const to = range ? range.end : text.selectionEnd;
  text.value = value.slice(0, from) + rendered + value.slice(to);
  const caret = from + rendered.length;
  text.setSelectionRange(caret, caret);
  setMode(record, "reply");
  text.focus();
  text.dispatchEvent(new Event("input"));
}

function fillLocally(body, record) {
  const customer = (record.customer && record.customer.customer) || {};
  const first = customer.given_name || (customer.display_name || record.summary.customer_name || "").split(" ")[0] || "";
  const values = {
    "customer.first_name": first, "customer.name": customer.display_name || record.summary.customer_name || "",
    "agent.name": (state.me && state.me.display_name) || "", "agent.first_name": ((state.me && state.me.display_name) || "").split(" ")[0],
  };
  return body.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (all, key) => (key in values ? values[key] : all));
}
