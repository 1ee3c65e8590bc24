// Small helpers every console module uses: building elements (text always via textContent), the JSON API
// with the session's CSRF token, times, channels, toasts.

export const $ = (id) => document.getElementById(id);

/** An element with classes, attributes and children; `text` is set with textContent, never parsed as HTML. */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.class) node.className = options.class;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function show(node, visible = true) { node.classList.toggle("hidden", !visible); }
export function clear(node) { while (node.firstChild) node.firstChild.remove(); }

// --- the JSON API ----------------------------------------------------------------------------------------
let csrfToken = null;
export function setCsrf(token) { csrfToken = token; }

export class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/** Call the JSON API; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (_) {
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  if (response.status === 204) return null;
  let payload = null;
  try { payload = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const error = (payload && payload.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status, error.message || response.statusText);
  }
  return payload;
}

/** GET that answers `fallback` when the endpoint is missing (404) or refused: for APIs that may not exist yet. */
export async function apiOptional(path, fallback) {
  try { return await api("GET", path); } catch (error) {
    if (error.status === 404 || error.status === 403 || error.status === 405) return fallback;
    throw error;
  }
}

// --- time ------------------------------------------------------------------------------------------------
let serverSkewMs = 0; // server clock minus ours, learnt from timestamps the server sends
export function learnSkew(isoNow) {
  const t = Date.parse(isoNow);
  if (!Number.isNaN(t)) serverSkewMs = t - Date.now();
}
export function now() { return Date.now() + serverSkewMs; }

export function clock(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
export function timeOf(iso) { const d = new Date(iso); return Number.isNaN(d.getTime()) ? "" : timeFormat.format(d); }
export function dateOf(iso) { const d = new Date(iso); return Number.isNaN(d.getTime()) ? "" : dateFormat.format(d); }
export function ago(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const days = Math.floor((now() - t) / 86400000);
  if (days < 1) return "today";
  if (days < 2) return "yesterday";
  if (days < 30) return `${days} days ago`;
  return dateOf(iso);
}

// --- channels --------------------------------------------------------------------------------------------
export const CHANNELS = {
  voice: { label: "Call", name: "Voice" },
  sms: { label: "SMS", name: "SMS" },
  email: { label: "Email", name: "Email" },
  chat: { label: "Chat", name: "Web chat" },
  ticket: { label: "Ticket", name: "Ticket" },
};
export function channelName(channel) { return (CHANNELS[channel] || { name: channel || "Contact" }).name; }

/** A round badge with the channel's icon (CSS draws the icon from the class). */
export function channelIcon(channel, extra = "") {
  return el("span", { class: `channel-icon ch-${CHANNELS[channel] ? channel : "other"} ${extra}`.trim(), attrs: { "aria-hidden": "true" } });
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

// --- toasts ----------------------------------------------------------------------------------------------
export function toast(text, kind = "info", ms = 5000) {
  const box = $("toasts");
  const item = el("div", { class: `toast toast-${kind}`, text });
  box.append(item);
  setTimeout(() => item.classList.add("leaving"), ms);
  setTimeout(() => item.remove(), ms + 400);
}

/** A yes/no question in the confirm dialog; resolves to true on Confirm. */
export function confirmDialog(title, text, okLabel = "Confirm") {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

export const ERROR_TEXT = {
  invalid: "That was not accepted",
  not_found: "It no longer exists",
  conflict: "It changed meanwhile",
  forbidden: "You may not do that",
  rate_limited: "Too fast: wait a moment and try again",
  offline: "You are offline",
  server_error: "Something went wrong on the server",
  timeout: "The server did not answer in time",
  disconnected: "Not connected to the server",
};
export function describe(answer) {
  if (!answer) return ERROR_TEXT.server_error;
  const base = ERROR_TEXT[answer.error] || "It did not work";
  return answer.message ? `${base}: ${answer.message}` : base;
}
