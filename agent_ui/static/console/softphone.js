// The softphone: the Twilio Voice JS SDK (vendored at /static/vendor/twilio.min.js, loaded only when the `state`
// payload says twilio_voice). Answer, hang up, mute, DTMF on the device; hold, hang-up for everyone and transfer
// through the server (POST /api/voice/calls/{conversation_id}/hold|hangup, `task:transfer`).
/* global Twilio */
import { $, api, clock, el, show, toast } from "./util.js";
import { emit, on, state } from "./state.js";

let device = null;
let current = null; // the Twilio Call
let callStarted = 0;
let timer = null;
let started = false;
let held = false;

function status(text, kind = "") {
  const chip = $("phone-status");
  chip.textContent = text;
  chip.className = `chip ${kind}`.trim();
}

function fail(text) {
  const node = $("phone-error");
  node.textContent = text;
  show(node, Boolean(text));
}

function loadSdk() {
  if (window.Twilio && window.Twilio.Device) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/static/vendor/twilio.min.js";
    script.onload = () => resolve();
    script.onerror = () => reject(new Error("the Voice SDK did not load"));
    document.head.append(script);
  });
}

async function token() {
  const answer = await api("GET", "/api/voice/token");
  return answer.token;
}

/** The voice conversation the call belongs to: the newest voice contact the agent holds. */
function voiceConversation() {
  const voice = [...state.conversations.values()].filter((r) => r.summary.channel === "voice");
  return voice.length ? voice[voice.length - 1] : null;
}

function showCall() {
  const record = voiceConversation();
  const offer = [...state.offers.values()].find((o) => o.channel === "voice");
  const who = (record && record.summary.customer_name) || (offer && offer.customer && offer.customer.customer && offer.customer.customer.display_name)
    || (current && current.parameters && current.parameters.From) || "Caller";
  $("call-who").textContent = who;
  $("call-meta").textContent = record ? [record.summary.queue, record.summary.subject].filter(Boolean).join(" · ") : "";
  const incoming = current && current.status() === "pending";
  const open = current && !incoming;
  show($("call"), Boolean(current));
  show($("call-answer"), Boolean(incoming));
  show($("call-hangup"), Boolean(current));
  for (const id of ["call-mute", "call-hold", "call-transfer", "call-keypad-toggle"]) show($(id), Boolean(open));
  if (!current) show($("keypad"), false);
}

function tickCall() {
  $("call-timer").textContent = callStarted ? clock((Date.now() - callStarted) / 1000) : "";
}

function track(call) {
  current = call;
  held = false;
  $("call-mute").setAttribute("aria-pressed", "false");
  $("call-hold").setAttribute("aria-pressed", "false");
  call.on("accept", () => {
    callStarted = Date.now();
    clearInterval(timer);
    timer = setInterval(tickCall, 1000);
    status("On a call", "chip-ok");
    showCall();
  });
  const ended = () => {
    if (current !== call) return;
    current = null;
    callStarted = 0;
    clearInterval(timer);
    tickCall();
    status("Ready", "chip-ok");
    showCall();
  };
  call.on("disconnect", ended);
  call.on("cancel", ended);
  call.on("reject", ended);
  call.on("error", (error) => fail(`Call error: ${error.message || error}`));
  status("Ringing", "chip-warn");
  showCall();
  emit("softphone:incoming", call);
}

async function start() {
  if (started) return;
  started = true;
  show($("softphone"), true);
  show($("phone-toggle"), true);
  status("Starting…");
  try {
    await loadSdk();
    device = new Twilio.Device(await token(), { closeProtection: true, codecPreferences: ["opus", "pcmu"] });
    // our own ringer (offer.js) rings; the SDK's sounds would come from Twilio's CDN
    if (device.audio) {
      try { device.audio.incoming(false); device.audio.outgoing(false); device.audio.disconnect(false); } catch (_) { /* older SDK */ }
    }
    device.on("registered", () => { status("Ready", "chip-ok"); fail(""); });
    device.on("unregistered", () => status("Off"));
    device.on("error", (error) => { status("Error", "chip-danger"); fail(`Phone: ${error.message || error}`); });
    device.on("incoming", track);
    device.on("tokenWillExpire", async () => {
      try { device.updateToken(await token()); } catch (error) { fail(`Phone token: ${error.message}`); }
    });
    await device.register();
  } catch (error) {
    status("Unavailable", "chip-danger");
    fail(`The softphone could not start: ${error.message || error}`);
  }
}

async function hold() {
  const record = voiceConversation();
  if (!record) return;
  const next = !held;
  try {
    await api("POST", `/api/voice/calls/${record.id}/hold`, { hold: next });
    held = next;
    $("call-hold").setAttribute("aria-pressed", String(held));
    $("call-hold").textContent = held ? "Resume" : "Hold";
    status(held ? "On hold" : "On a call", held ? "chip-warn" : "chip-ok");
  } catch (error) { toast(`Hold: ${error.message}`, "error"); }
}

async function hangUp() {
  if (!current) return;
  const record = voiceConversation();
  if (current.status() === "pending") { current.reject(); return; }
  if (record) {
    try { await api("POST", `/api/voice/calls/${record.id}/hangup`); } catch (error) { toast(`Hang up: ${error.message}`, "error"); }
  }
  if (current) current.disconnect();
}

function buildKeypad() {
  const pad = $("keypad");
  for (const key of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]) {
    const button = el("button", { class: "key", text: key, attrs: { type: "button", "aria-label": `Tone ${key}` } });
    button.addEventListener("click", () => { if (current) current.sendDigits(key); });
    pad.append(button);
  }
}

export function answerCall() { if (current && current.status() === "pending") current.accept(); }

export function setupSoftphone() {
  buildKeypad();
  on("state", (payload) => { if (payload.twilio_voice) start(); });
  on("conversation:selected", showCall);
  $("call-answer").addEventListener("click", answerCall);
  $("call-hangup").addEventListener("click", hangUp);
  $("call-mute").addEventListener("click", () => {
    if (!current) return;
    const muted = !current.isMuted();
    current.mute(muted);
    $("call-mute").setAttribute("aria-pressed", String(muted));
    $("call-mute").textContent = muted ? "Unmute" : "Mute";
  });
  $("call-hold").addEventListener("click", hold);
  $("call-transfer").addEventListener("click", () => emit("transfer:open", voiceConversation()));
  $("call-keypad-toggle").addEventListener("click", () => {
    const open = $("keypad").classList.contains("hidden");
    show($("keypad"), open);
    $("call-keypad-toggle").setAttribute("aria-expanded", String(open));
  });
  $("phone-toggle").addEventListener("click", () => {
    const open = $("softphone").classList.contains("hidden");
    show($("softphone"), open);
    $("phone-toggle").setAttribute("aria-expanded", String(open));
  });
  window.addEventListener("beforeunload", () => { if (device) device.destroy(); });
}
