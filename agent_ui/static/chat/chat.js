"use strict";
// The customers' chat widget: talks to the socket.io /chat namespace (docs/agent-protocol.md).
// Every text a customer or an agent wrote (file names included) is put on the page with textContent, never as
// HTML. Files go over HTTP with the visitor token in X-Chat-Token, and come back as blob: URLs.
(function () {
  const TOKEN_KEY = "cc-chat-token";
  const TYPING_IDLE_MS = 2000;
  const AGENT_TYPING_TIMEOUT_MS = 8000;
  const ACK_TIMEOUT_MS = 10000;
  const ERRORS = {
    rate_limited: "You are sending messages a little too fast. Please wait a moment and try again.",
    offline: "Nobody can chat just now; leave us a message instead.",
    not_found: "This chat has ended. Start a new one if you need anything else.",
    server_error: "Something went wrong on our side. Please try again.",
    timeout: "We could not reach the server. Check your connection and try again.",
  };
  const FILE_ERRORS = {
    type: "We can only accept pictures (PNG, JPEG or GIF), PDF documents and plain text files.",
    too_large: "This file is too large to send.",
    too_fast: "You are sending files a little too fast. Please wait a minute and try again.",
    empty: "This file is empty.",
    token: "We could not check your chat session. Please reload the page and try again.",
    ended: "This chat has ended, so files can no longer be sent to it.",
  };
  const TOKEN_HEADER = "X-Chat-Token";
  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif"];
  const OFFLINE_REASONS = {
    closed: "We are closed at the moment.",
    no_agents: "All of our team are away just now.",
  };

  const $ = (id) => document.getElementById(id);
  const embedded = document.body.classList.contains("layout-embed") && window.parent !== window;
  const state = {
    view: "loading",
    conversationId: null,
    endedConversationId: null,
    agentName: null,
    messages: new Map(), // key: "id:<id>" once stored, "client:<client_id>" while sending
    lastReadSent: 0,
    seenUpTo: 0,
    typingSent: false,
    typingTimer: null,
    agentTypingTimer: null,
    panelOpen: !embedded,
    unread: 0,
    token: null, // also kept here: localStorage may be blocked in a website's frame
    blobs: new Map(), // a file's url -> Promise of its blob: URL
  };

  // storage (may be unavailable, e.g. third-party frames with storage blocked) ---------------------------
  function loadToken() {
    try { return window.localStorage.getItem(TOKEN_KEY) || state.token; } catch (_) { return state.token; }
  }
  function saveToken(token) {
    state.token = token;
    try { window.localStorage.setItem(TOKEN_KEY, token); } catch (_) { /* this tab only */ }
  }
  function forgetToken() {
    try { window.localStorage.removeItem(TOKEN_KEY); } catch (_) { /* nothing kept */ }
  }

  // the socket ------------------------------------------------------------------------------------------
  const socket = window.io("/chat", {
    transports: ["websocket"],
    auth: (send) => { const token = loadToken(); send(token ? { token } : {}); },
  });

  async function call(event, data) {
    try {
      return await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, data || {});
    } catch (_) {
      return { ok: false, error: "timeout", message: ERRORS.timeout };
    }
  }

  function errorText(answer) {
    if (answer.error === "invalid" && answer.message) return "Please check the form: " + answer.message + ".";
    return ERRORS[answer.error] || answer.message || ERRORS.server_error;
  }

  function showError(text) {
    const box = $("error");
    box.textContent = text || "";
    box.classList.toggle("hidden", !text);
  }

  socket.on("connect", async () => {
    $("connection").classList.add("hidden");
    const hello = await call("hello");
    $("chat").setAttribute("aria-busy", "false");
    if (!hello.ok) { showError(errorText(hello)); return; }
    saveToken(hello.token);
    fillTopics(hello.topics || []);
    if (hello.conversation_id) {
      showConversation(hello);
      resendPending();
    } else if (state.view === "conversation") {
      showRating(state.conversationId); // ended in another tab while we were away
    } else if (["loading", "prechat", "offline"].includes(state.view)) {
      if (hello.offline) showOffline(hello.offline); else showView("prechat");
    }
  });

  socket.on("connect_error", (error) => {
    if (error && error.message === "invalid visitor token") {
      forgetToken(); // a token from another installation or an old key: start afresh
      socket.connect();
      return;
    }
    $("connection").textContent = "We cannot reach the chat server. Retrying…";
    $("connection").classList.remove("hidden");
  });

  socket.on("disconnect", () => {
    $("connection").textContent = "Connection lost. Reconnecting…";
    $("connection").classList.remove("hidden");
  });

  // views -----------------------------------------------------------------------------------------------
  const VIEWS = {
    loading: "view-loading", prechat: "prechat-form", offline: "offline-form", "offline-sent": "offline-sent",
    conversation: "conversation", rating: "rating-form", thanks: "thanks",
  };

  function showView(name) {
    state.view = name;
    for (const [view, id] of Object.entries(VIEWS)) $(id).classList.toggle("hidden", view !== name);
    $("end-chat").classList.toggle("hidden", name !== "conversation");
    showError("");
    setStatus();
    const focusTarget = {
      prechat: "prechat-name", offline: "offline-name", conversation: "composer-text",
      "offline-sent": "offline-sent", thanks: "thanks",
    }[name];
    if (focusTarget && state.panelOpen && !(name === "prechat" && $("prechat-name").value)) {
      $(focusTarget).focus({ preventScroll: true });
    }
  }

  function setStatus() {
    const status = $("status");
    if (state.view === "conversation" && state.agentName) status.textContent = "Chatting with " + state.agentName;
    else if (state.view === "conversation") status.textContent = "Waiting for the next free agent";
    else if (state.view === "offline" || state.view === "offline-sent") status.textContent = "Leave us a message";
    else if (state.view === "loading") status.textContent = "Connecting…";
    else status.textContent = "We reply in a few minutes";
    $("avatar").textContent = state.view === "conversation" && state.agentName ? initials(state.agentName) : "CC";
  }

  function initials(name) {
    const parts = name.trim().split(/\s+/).filter(Boolean);
    return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
  }

  function fillTopics(topics) {
    const select = $("prechat-topic");
    if (select.options.length) return;
    for (const topic of topics) {
      const option = document.createElement("option");
      option.value = topic;
      option.textContent = topic;
      select.append(option);
    }
    select.closest("form").classList.toggle("no-topics", !topics.length);
  }

  function showOffline(reason) {
    $("offline-reason").textContent = OFFLINE_REASONS[reason] || OFFLINE_REASONS.no_agents;
    for (const field of ["name", "email", "text"]) {
      const from = $("prechat-" + field), to = $("offline-" + field);
      if (from && !to.value) to.value = from.value;
    }
    showView("offline");
  }

  // the pre-chat form -----------------------------------------------------------------------------------
  $("prechat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const data = {
      name: form.name.value.trim(),
      topic: form.topic.value,
      text: form.text.value.trim(),
    };
    if (form.email.value.trim()) data.email = form.email.value.trim();
    if (!data.name) { showError("Please tell us your name."); form.name.focus(); return; }
    if (!data.text) { showError("Please write your question."); form.text.focus(); return; }
    const answer = await busy(form, () => call("start", data));
    if (answer.ok) {
      form.text.value = "";
      showConversation(answer);
    } else if (answer.error === "offline") {
      showOffline(answer.reason);
    } else if (answer.error === "conflict") {
      socket.disconnect().connect(); // a chat is open already (another tab): hello shows it
    } else {
      showError(errorText(answer));
    }
  });

  async function busy(form, work) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try { return await work(); } finally { button.disabled = false; }
  }

  // the offline form ------------------------------------------------------------------------------------
  $("offline-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const data = { name: form.name.value.trim(), email: form.email.value.trim(), text: form.text.value.trim() };
    if (!data.name || !data.email || !data.text) { showError("Please fill in your name, email and message."); return; }
    const answer = await busy(form, () => call("offline", data));
    if (!answer.ok) { showError(errorText(answer)); return; }
    $("offline-confirmation").textContent =
      "Thanks, " + data.name + ". Your message is ticket T-" + answer.ticket_id +
      ". We will answer you at " + data.email + ".";
    showView("offline-sent");
  });

  // the conversation ------------------------------------------------------------------------------------
  function showConversation(answer) {
    if (state.conversationId !== answer.conversation_id) {
      state.messages.clear();
      forgetBlobs();
      $("messages").replaceChildren();
      state.lastReadSent = 0;
      state.seenUpTo = 0;
    }
    state.conversationId = answer.conversation_id;
    if (answer.agent !== undefined) state.agentName = answer.agent || null;
    for (const message of answer.messages || []) addMessage(message);
    showQueue(state.agentName ? null : answer.queue);
    if (state.view !== "conversation") showView("conversation");
    setStatus();
    scrollToEnd();
    markRead();
  }

  function keyOf(message) {
    return message.id ? "id:" + message.id : "client:" + message.client_id;
  }

  function addMessage(message) {
    let item = state.messages.get("id:" + message.id);
    if (!item && message.client_id && message.author === "customer") {
      item = state.messages.get("client:" + message.client_id); // our own message, sent from this tab
      if (item) state.messages.delete("client:" + message.client_id);
    }
    if (!item) {
      item = renderMessage(message);
      $("messages").append(item);
    }
    item.dataset.id = message.id || "";
    item.classList.remove("pending", "failed");
    item.querySelector(".meta").textContent = timeOf(message.at);
    state.messages.set(keyOf(message), item);
    if (message.author === "customer" && message.read_at) seen(message.id);
    if (message.author === "agent") hideAgentTyping();
    return item;
  }

  function renderMessage(message) {
    const item = document.createElement("li");
    item.className = "message from-" + (message.author === "customer" ? "customer" : message.author === "agent" ? "agent" : "system");
    const files = message.files || [];
    if (!files.length || !/^\[file\] /.test(message.text || "")) { // a file's own message says only its name
      const bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.textContent = message.text; // never innerHTML: what people write is text
      item.append(bubble);
    }
    if (files.length) item.append(renderFiles(files));
    const meta = document.createElement("div");
    meta.className = "meta";
    item.append(meta);
    return item;
  }

  function addNote(text) {
    const item = document.createElement("li");
    item.className = "note";
    item.textContent = text;
    $("messages").append(item);
    scrollToEnd();
  }

  function timeOf(at) {
    if (!at) return "";
    const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(at) ? at : at + "Z");
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function scrollToEnd() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  function showQueue(queue) {
    const box = $("queue");
    if (!queue || state.agentName) { box.classList.add("hidden"); return; }
    const minutes = Math.max(1, Math.round((queue.wait_seconds || 0) / 60));
    box.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = queue.position === 1 ? "You are next in line" : "You are number " + queue.position + " in line";
    box.append(strong, document.createTextNode(" · estimated wait about " + minutes + " min"));
    box.classList.remove("hidden");
  }

  // sending
  function newClientId() {
    const bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function send(text, clientId, item) {
    const answer = await call("message", { text, client_id: clientId });
    if (answer.ok) {
      addMessage(answer.message);
      scrollToEnd();
      return;
    }
    item.classList.remove("pending");
    item.classList.add("failed");
    const meta = item.querySelector(".meta");
    meta.replaceChildren();
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "link";
    retry.textContent = "Not sent. Retry";
    retry.addEventListener("click", () => {
      item.classList.replace("failed", "pending");
      meta.textContent = "Sending…";
      showError("");
      send(text, clientId, item);
    });
    meta.append(retry);
    showError(errorText(answer));
  }

  function resendPending() {
    for (const [key, item] of state.messages) {
      if (key.startsWith("client:") && item.classList.contains("pending")) {
        send(item.querySelector(".bubble").textContent, key.slice(7), item);
      }
    }
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("composer-text");
    const text = box.value.trim();
    if (!text) return;
    if (text.length > 4000) { showError("A message has at most 4000 characters."); return; }
    showError("");
    const clientId = newClientId();
    const item = renderMessage({ author: "customer", text });
    item.classList.add("pending");
    item.querySelector(".meta").textContent = "Sending…";
    $("messages").append(item);
    state.messages.set("client:" + clientId, item);
    box.value = "";
    autosize(box);
    stopTyping();
    scrollToEnd();
    send(text, clientId, item);
  });

  $("composer-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });

  $("composer-text").addEventListener("input", (event) => {
    autosize(event.target);
    if (!event.target.value.trim()) { stopTyping(); return; }
    if (!state.typingSent) {
      state.typingSent = true;
      call("typing", { typing: true });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent) {
      state.typingSent = false;
      call("typing", { typing: false });
    }
  }

  function autosize(box) {
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, 140) + "px";
  }

  // files -----------------------------------------------------------------------------------------------
  function renderFiles(files) {
    const box = document.createElement("div");
    box.className = "attachments";
    for (const file of files) box.append(IMAGE_TYPES.includes(file.type) ? renderImage(file) : renderDocument(file));
    return box;
  }

  function renderImage(file) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb loading";
    button.setAttribute("aria-label", "Open the picture " + file.name + " full size");
    const img = document.createElement("img");
    img.alt = file.name;
    button.append(img);
    blobUrl(file.url).then((href) => {
      img.src = href;
      button.classList.remove("loading");
    }, () => {
      button.classList.replace("loading", "broken");
      button.disabled = true;
      button.textContent = file.name + " (could not be loaded)";
    });
    button.addEventListener("click", async () => {
      const href = await blobUrl(file.url).catch(() => null);
      if (href) openViewer(file, href);
    });
    return button;
  }

  // a file's icon, name and size: in a download link, or in a plain box while it is being sent
  function fileChip(tag, file) {
    const chip = document.createElement(tag);
    chip.className = "file-chip";
    const icon = document.createElement("span");
    icon.className = "file-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = IMAGE_TYPES.includes(file.type) || /^image\//.test(file.type) ? "IMG"
      : file.type === "application/pdf" ? "PDF" : file.type === "text/plain" ? "TXT" : "FILE";
    const label = document.createElement("span");
    label.className = "file-label";
    const name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;
    const size = document.createElement("span");
    size.className = "file-size";
    size.textContent = sizeOf(file.size);
    label.append(name, size);
    chip.append(icon, label);
    return chip;
  }

  function renderDocument(file) {
    const link = fileChip("a", file);
    link.href = file.url;
    link.download = file.name;
    link.setAttribute("aria-label", "Download " + file.name + " (" + sizeOf(file.size) + ")");
    link.addEventListener("click", async (event) => {
      event.preventDefault(); // the plain URL needs our header: download the blob instead
      try {
        save(await blobUrl(file.url), file.name);
      } catch (_) {
        showError("We could not download " + file.name + ". Please try again.");
      }
    });
    return link;
  }

  function save(href, name) {
    const link = document.createElement("a");
    link.href = href;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
  }

  function sizeOf(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  // A file of the chat as a blob: URL, fetched once with the visitor token (no cookies: only the token counts).
  function blobUrl(url) {
    if (!state.blobs.has(url)) {
      const href = fetch(url, { headers: { [TOKEN_HEADER]: loadToken() || "" }, credentials: "omit" })
        .then((response) => {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        })
        .then((blob) => URL.createObjectURL(blob));
      href.catch(() => state.blobs.delete(url)); // try again next time
      state.blobs.set(url, href);
    }
    return state.blobs.get(url);
  }

  function forgetBlobs() {
    for (const href of state.blobs.values()) href.then((h) => URL.revokeObjectURL(h), () => {});
    state.blobs.clear();
  }

  function openViewer(file, href) {
    const viewer = $("viewer");
    $("viewer-name").textContent = file.name;
    $("viewer-image").src = href;
    $("viewer-image").alt = file.name;
    $("viewer-download").href = href;
    $("viewer-download").download = file.name;
    viewer.showModal();
    $("viewer-close").focus();
  }
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer").addEventListener("click", (event) => { if (event.target === $("viewer")) $("viewer").close(); });
  $("viewer").addEventListener("close", () => $("viewer-image").removeAttribute("src"));

  // sending files: one at a time, each shown as "Sending…" until the server has it
  $("attach").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", async (event) => {
    const chosen = Array.from(event.target.files || []);
    event.target.value = ""; // the same file may be chosen again
    showError("");
    for (const file of chosen) await sendFile(file, null);
  });

  async function sendFile(file, item) {
    if (!file.size) { showError(FILE_ERRORS.empty); return; }
    item = item || pendingFile(file);
    item.classList.remove("failed");
    item.classList.add("pending");
    item.querySelector(".meta").textContent = "Sending…";
    const form = new FormData();
    form.append("file", file, file.name);
    let response, body = null;
    try {
      response = await fetch("/chat/files", {
        method: "POST", body: form, headers: { [TOKEN_HEADER]: loadToken() || "" }, credentials: "omit",
      });
      body = await response.json().catch(() => null);
    } catch (_) {
      response = null;
    }
    if (response && response.status === 201 && body && body.message) {
      const stored = state.messages.get("id:" + body.message.id); // the socket may have brought it first
      if (stored) item.remove();
      else state.messages.set("id:" + body.message.id, replaceWith(item, renderMessage(body.message)));
      addMessage(body.message);
      scrollToEnd();
      return;
    }
    const problem = fileProblem(response, body && body.error && body.error.message);
    showError(file.name + ": " + problem.text);
    if (!problem.retry) { item.remove(); return; }
    item.classList.replace("pending", "failed");
    const meta = item.querySelector(".meta");
    meta.replaceChildren();
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "link";
    retry.textContent = "Not sent. Retry";
    retry.addEventListener("click", () => { showError(""); sendFile(file, item); });
    meta.append(retry);
  }

  function replaceWith(old, fresh) {
    old.replaceWith(fresh);
    return fresh;
  }

  function pendingFile(file) {
    const item = renderMessage({ author: "customer", text: "" });
    item.querySelector(".bubble").remove();
    const box = document.createElement("div");
    box.className = "attachments";
    box.append(fileChip("div", { name: file.name, type: file.type, size: file.size }));
    item.prepend(box);
    $("messages").append(item);
    scrollToEnd();
    return item;
  }

  // What went wrong with an upload, in plain words, and whether sending it again may help.
  function fileProblem(response, message) {
    const said = message || "";
    if (!response) return { text: ERRORS.timeout, retry: true };
    if (response.status === 413) return { text: FILE_ERRORS.too_large, retry: false };
    if (response.status === 403) return { text: FILE_ERRORS.token, retry: false };
    if (response.status === 404) return { text: ERRORS.not_found, retry: false };
    if (response.status === 409) return { text: FILE_ERRORS.ended, retry: false };
    if (response.status === 429 || /too many/i.test(said)) return { text: FILE_ERRORS.too_fast, retry: true };
    if (/only images/i.test(said)) return { text: FILE_ERRORS.type, retry: false };
    const most = /at most (\d+) bytes/i.exec(said);
    if (most) return { text: "This file is too large. Files can be up to " + sizeOf(Number(most[1])) + ".", retry: false };
    if (/empty/i.test(said)) return { text: FILE_ERRORS.empty, retry: false };
    if (response.status >= 500) return { text: ERRORS.server_error, retry: true };
    return { text: said ? "This file could not be sent: " + said + "." : ERRORS.server_error, retry: false };
  }

  // what the server pushes
  socket.on("message", (message) => {
    if (message.conversation_id !== state.conversationId) return;
    const fresh = !state.messages.has("id:" + message.id);
    addMessage(message);
    scrollToEnd();
    if (message.author === "agent" && fresh) {
      markRead();
      if (!state.panelOpen) tellParent({ type: "unread", count: ++state.unread });
    }
  });

  socket.on("typing", (data) => {
    if (!data.typing) { hideAgentTyping(); return; }
    $("typing-text").textContent = (state.agentName || "The agent") + " is typing";
    $("typing").classList.remove("hidden");
    clearTimeout(state.agentTypingTimer);
    state.agentTypingTimer = setTimeout(hideAgentTyping, AGENT_TYPING_TIMEOUT_MS);
  });

  function hideAgentTyping() {
    clearTimeout(state.agentTypingTimer);
    $("typing").classList.add("hidden");
  }

  socket.on("read", (data) => seen(data.message_id));

  function seen(messageId) {
    if (!messageId || messageId < state.seenUpTo) return;
    state.seenUpTo = messageId;
    let last = null;
    for (const item of $("messages").querySelectorAll(".from-customer")) {
      item.classList.remove("seen");
      if (item.dataset.id && Number(item.dataset.id) <= messageId) last = item;
    }
    if (last) last.classList.add("seen");
  }

  socket.on("queue", (queue) => showQueue(queue));

  socket.on("agent_joined", (data) => {
    state.agentName = data.name || "An agent";
    showQueue(null);
    addNote(state.agentName + " joined the chat");
    setStatus();
  });

  socket.on("agent_left", (data) => {
    const name = state.agentName || "The agent";
    addNote(data.reason === "transferred"
      ? name + " is passing you to a colleague. Please hold on."
      : name + " left the chat. Write again if you need anything else.");
    state.agentName = null;
    hideAgentTyping();
    setStatus();
  });

  // a satisfaction survey after a ticket was resolved: five buttons in the conversation, answered once
  socket.on("survey", (survey) => {
    if (survey.conversation_id !== state.conversationId) return;
    const item = document.createElement("li");
    item.className = "survey";
    const question = document.createElement("p");
    question.textContent = "How did we do with request T-" + survey.ticket_id + "? 1 is poor, 5 is great.";
    const buttons = document.createElement("div");
    buttons.className = "survey-scores";
    for (let score = 1; score <= 5; score++) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = String(score);
      button.setAttribute("aria-label", "Rate " + score + " out of 5");
      button.addEventListener("click", () => answerSurvey(survey, score, item));
      buttons.append(button);
    }
    item.append(question, buttons);
    $("messages").append(item);
    scrollToEnd();
  });

  async function answerSurvey(survey, score, item) {
    for (const button of item.querySelectorAll("button")) button.disabled = true;
    let said = "Thank you for your rating.";
    try {
      const response = await fetch(new URL(survey.url).pathname, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ score }),
      });
      said = (await response.json()).message || said;
    } catch (error) {
      said = "Your rating could not be sent; the link in the message above still works.";
    }
    const thanks = document.createElement("p");
    thanks.textContent = said;
    item.append(thanks);
  }

  socket.on("ended", () => {
    if (state.view === "conversation") showRating(state.conversationId);
  });

  // read receipts: the latest agent message, once the customer can see it
  function markRead() {
    if (state.view !== "conversation" || !state.panelOpen || document.visibilityState !== "visible") return;
    let latest = 0;
    for (const item of $("messages").querySelectorAll(".from-agent")) latest = Math.max(latest, Number(item.dataset.id) || 0);
    if (latest > state.lastReadSent) {
      state.lastReadSent = latest;
      call("read", { message_id: latest });
    }
  }
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);

  // ending and rating -----------------------------------------------------------------------------------
  $("end-chat").addEventListener("click", async () => {
    const button = $("end-chat");
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = "End the chat?";
      setTimeout(() => { button.dataset.confirm = ""; button.textContent = "End chat"; }, 4000);
      return;
    }
    button.dataset.confirm = "";
    button.textContent = "End chat";
    stopTyping();
    const answer = await call("end");
    if (!answer.ok) { showError(errorText(answer)); return; }
    showRating(answer.conversation_id || state.conversationId);
  });

  function showRating(conversationId) {
    state.endedConversationId = conversationId;
    state.conversationId = null;
    state.agentName = null;
    $("rating-form").reset();
    showView("rating");
    $("score-5").focus({ preventScroll: true });
  }

  $("rating-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const score = form.querySelector("input[name=score]:checked");
    if (!score) { showError("Please choose from 1 to 5 stars, or skip."); return; }
    const conversationId = state.endedConversationId;
    const rated = await busy(form, () =>
      call("rate", { conversation_id: conversationId, score: Number(score.value), comment: form.comment.value.trim() }));
    if (!rated.ok) { showError(errorText(rated)); return; }
    let thanks = "Thanks for your feedback.";
    if (form.transcript.checked) {
      const sent = await busy(form, () => call("transcript", { conversation_id: conversationId }));
      if (!sent.ok) {
        showError("We could not email the transcript: " + (sent.message || ERRORS.server_error) + ".");
        form.transcript.checked = false;
        return;
      }
      thanks += " The transcript is on its way to your inbox.";
    }
    $("thanks-text").textContent = thanks;
    showView("thanks");
  });

  $("rating-skip").addEventListener("click", () => {
    $("thanks-text").textContent = "Thanks for chatting with us.";
    showView("thanks");
  });

  $("new-chat").addEventListener("click", async () => {
    const hello = await call("hello");
    if (!hello.ok) { showError(errorText(hello)); return; }
    if (hello.conversation_id) showConversation(hello);
    else if (hello.offline) showOffline(hello.offline);
    else showView("prechat");
  });

  // inside a website's frame (widget.js): open/close from the launcher, minimise and unread to it --------
  function tellParent(message) {
    if (embedded) window.parent.postMessage({ source: "cc-chat", ...message }, "*");
  }

  window.addEventListener("message", (event) => {
    if (!embedded || event.source !== window.parent || !event.data || event.data.source !== "cc-chat-host") return;
    state.panelOpen = event.data.type === "open";
    if (state.panelOpen) {
      state.unread = 0;
      markRead();
      const target = state.view === "conversation" ? "composer-text" : null;
      if (target) $(target).focus({ preventScroll: true });
    }
  });

  $("minimise").addEventListener("click", () => tellParent({ type: "close" }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("viewer").open) tellParent({ type: "close" }); // Escape closes the picture first
  });
})();
