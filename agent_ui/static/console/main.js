// The agent console: wires the /agent socket (docs/agent-protocol.md) to the modules and the keyboard.
import { $, api, apiOptional, describe, initials, show, toast, setCsrf } from "./util.js";
import { call, emit, on, socket, state } from "./state.js";
import { accept, addOffer, endOffer, reject, tick as tickOffers, unlockSound } from "./offer.js";
import { addConversation, appendMessage, endContact, removeConversation, select, setTyping, setupWorkspace, updateConversation } from "./workspace.js";
import { setupCustomerPane } from "./customer.js";
import { toggleMode } from "./composer.js";
import { refreshLists } from "./wrapup.js";
import { setupAssist } from "./assist.js";
import { setupTransfer } from "./transfer.js";
import { setupNotifications } from "./notifications.js";
import { openMenu, renderAwayReasons, setPresence, setupPresence, tick as tickPresence } from "./presence.js";
import { answerCall, setupSoftphone } from "./softphone.js";

function items(payload) { return Array.isArray(payload) ? payload : (payload && payload.items) || []; }

async function whoAmI() {
  try {
    const me = await api("GET", "/api/auth/me");
    setCsrf(me.csrf_token);
    state.me = me.user;
    $("me-name").textContent = me.user.display_name;
    $("me-avatar").textContent = initials(me.user.display_name);
    return true;
  } catch (error) {
    if (error.status === 401) window.location.replace("/login?next=/agent");
    return false;
  }
}

async function loadLists() {
  const [dispositions, reasons, away] = await Promise.all([
    apiOptional("/api/dispositions", []).catch(() => []),
    apiOptional("/api/contact-reasons", []).catch(() => []),
    apiOptional("/api/away-reasons", []).catch(() => []),
  ]);
  const active = (list) => items(list).filter((item) => item.active !== false);
  state.lists.dispositions = active(dispositions);
  state.lists.reasons = active(reasons);
  state.lists.away = active(away);
  renderAwayReasons();
  refreshLists();
  setPresence(state.presence, false);
}

function renderCapacity() {
  const held = {};
  for (const record of state.conversations.values()) held[record.summary.channel] = (held[record.summary.channel] || 0) + 1;
  // tickets are worked on the Tickets page: the line counts the conversations held here
  const parts = Object.entries(state.capacity || {}).filter(([channel, n]) => n > 0 && channel !== "ticket")
    .map(([channel, n]) => `${({ voice: "Calls", sms: "SMS", email: "Email", chat: "Chats" })[channel] || channel} ${held[channel] || 0}/${n}`);
  $("capacity").textContent = parts.join(" · ");
}

function connection(text, kind) {
  const node = $("connection");
  node.textContent = text || "";
  node.className = `connection ${kind || ""}`.trim();
  show(node, Boolean(text));
}

function wireSocket() {
  socket.on("connect", () => {
    state.connected = true;
    connection("", "");
    $("app").setAttribute("aria-busy", "false");
    emit("connected");
  });
  socket.on("disconnect", (reason) => {
    state.connected = false;
    connection(reason === "io server disconnect" ? "Disconnected by the server" : "Reconnecting…", "warn");
  });
  socket.on("connect_error", async (error) => {
    state.connected = false;
    connection("Cannot reach the server: retrying…", "warn");
    if (error && /log in/i.test(error.message || "")) {
      socket.disconnect();
      window.location.replace("/login?next=/agent");
    }
  });

  socket.on("state", (payload) => {
    state.agent = payload.agent;
    state.capacity = payload.capacity || {};
    state.twilioVoice = Boolean(payload.twilio_voice);
    setPresence(payload.presence, false);
    const held = new Set((payload.conversations || []).map((c) => c.id));
    for (const id of [...state.conversations.keys()]) if (!held.has(id)) removeConversation(id);
    for (const summary of payload.conversations || []) addConversation(summary);
    emit("state", payload);
    renderCapacity();
  });
  socket.on("presence", (presence) => setPresence(presence, true));
  socket.on("whisper", (whisper) => toast(`${whisper.from} (whisper): ${whisper.text}`, "whisper", 15000));
  socket.on("offer", (offer) => addOffer(offer, true));
  socket.on("offer:ended", (data) => endOffer(data.reservation_id, data.reason));
  socket.on("conversation:assigned", (summary) => { addConversation(summary, { focus: true }); renderCapacity(); });
  socket.on("ticket:assigned", (ticket) => {  // ticket work is done on the Tickets page
    toast(`${ticket.reference} is yours (Tickets, assigned to me): ${ticket.subject}`, "info", 10000);
  });
  socket.on("conversation:updated", (summary) => updateConversation(summary));
  socket.on("conversation:removed", (data) => {
    const record = state.conversations.get(data.conversation_id);
    if (record && data.reason === "transferred") toast(`${record.summary.customer_name || "The contact"} was transferred.`, "info");
    removeConversation(data.conversation_id);
    renderCapacity();
  });
  socket.on("conversation:message", (data) => {
    const record = state.conversations.get(data.conversation_id);
    if (record) appendMessage(record, data.message);
  });
  socket.on("chat:typing", (data) => {
    const record = state.conversations.get(data.conversation_id);
    if (record && data.who === "customer") setTyping(record, Boolean(data.typing));
  });
  socket.on("chat:ended", (data) => {
    const record = state.conversations.get(data.conversation_id);
    if (!record) return;
    record.panel.classList.add("ended");
    toast(`${record.summary.customer_name || "The customer"} left the chat.`, "info");
  });
}

function shortcuts() {
  document.addEventListener("keydown", (event) => {
    if (event.altKey && !event.ctrlKey && !event.metaKey) {
      const code = event.code;
      if (code === "KeyA" && state.offers.size) { event.preventDefault(); accept(); answerCall(); return; }
      if (code === "KeyR" && state.offers.size) { event.preventDefault(); reject(); return; }
      if (code === "KeyS") { event.preventDefault(); openMenu(); return; }
      if (code === "KeyE") { event.preventDefault(); endContact(); return; }
      if (code === "KeyN") {
        const record = state.conversations.get(state.activeId);
        if (record) { event.preventDefault(); toggleMode(record); }
        return;
      }
      const digit = /^Digit([1-9])$/.exec(code);
      if (digit && state.order[Number(digit[1]) - 1]) { event.preventDefault(); select(state.order[Number(digit[1]) - 1]); }
      return;
    }
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "?" && !typing && !document.querySelector("dialog[open]")) { event.preventDefault(); $("help-dialog").showModal(); }
  });
  $("help-button").addEventListener("click", () => $("help-dialog").showModal());
  $("help-close").addEventListener("click", () => $("help-dialog").close());
  // browsers start sound only after the page was used
  document.addEventListener("pointerdown", unlockSound);
  document.addEventListener("keydown", unlockSound);
}

async function signOut() {
  try { await call("presence:set", { state: "offline" }); } catch (_) { /* leaving anyway */ }
  try { await api("POST", "/api/auth/logout"); } catch (_) { /* the session may be gone already */ }
  socket.disconnect();
  window.location.assign("/login");
}

async function main() {
  if (!(await whoAmI())) return;
  setupWorkspace();
  setupCustomerPane();
  setupAssist();
  setupTransfer();
  setupPresence();
  setupSoftphone();
  shortcuts();
  wireSocket();
  setupNotifications(socket);
  on("conversation:accepted", (summary) => { addConversation(summary, { focus: true }); renderCapacity(); });
  on("conversation:closed", renderCapacity);
  on("conversation:wrapped", (summary) => updateConversation(summary));
  $("sign-out").addEventListener("click", signOut);
  socket.connect();
  loadLists().catch((error) => toast(`Lists could not be loaded: ${describe({ error: "server_error", message: error.message })}`, "error"));
  setInterval(() => { tickOffers(); tickPresence(); }, 1000);
}

main();
