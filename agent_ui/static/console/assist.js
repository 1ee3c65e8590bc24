// The assist pane: knowledge-base suggestions for the open conversation and the canned replies list.
// Article HTML comes sanitised by the server and goes only into the article dialog's own container.
import { $, api, apiOptional, clear, el, show, toast } from "./util.js";
import { on, state } from "./state.js";
import { insertCanned } from "./composer.js";

function bare(shortcut) { return String(shortcut || "").replace(/^\//, ""); }
function items(payload) { return Array.isArray(payload) ? payload : (payload && payload.items) || []; }

let kbRequest = 0; // only the newest request's answer is shown
let kbTimer = null;
let article = null;

async function suggest(record) {
  const list = $("kb-list");
  const empty = $("kb-empty");
  const mine = ++kbRequest;
  clear(list);
  if (!record) { empty.textContent = "Suggestions for the open conversation show here."; show(empty, true); return; }
  empty.textContent = "Looking for articles…";
  show(empty, true);
  let found = [];
  try {
    found = items(await apiOptional(`/api/knowledge/suggest?conversation_id=${record.id}`, []));
  } catch (_) { found = []; }
  if (mine !== kbRequest) return;
  clear(list);
  if (!found.length) { empty.textContent = "No suggestions for this conversation."; return; }
  show(empty, false);
  for (const item of found.slice(0, 6)) {
    const button = el("button", { class: "kb-item", attrs: { type: "button" } }, [
      el("span", { class: "kb-title", text: item.title }),
      item.excerpt ? el("span", { class: "kb-excerpt", text: item.excerpt }) : null,
    ]);
    button.addEventListener("click", () => openArticle(item.id));
    list.append(el("li", {}, [button]));
  }
}

async function openArticle(id) {
  try {
    article = await api("GET", `/api/knowledge/articles/${id}`);
  } catch (error) { toast(`The article could not be opened: ${error.message}`, "error"); return; }
  $("article-title").textContent = article.title || "Article";
  // sanitised server-side (knowledge module); this container holds nothing else
  $("article-body").innerHTML = article.html || "";
  if (!article.html) $("article-body").textContent = article.body || "";
  $("article-dialog").showModal();
}

async function loadCanned(q = "") {
  let replies = [];
  try { replies = items(await apiOptional(`/api/canned-replies${q ? `?q=${encodeURIComponent(q)}` : ""}`, [])); } catch (_) { replies = []; }
  if (!q) state.lists.canned = replies;
  const list = $("canned-list");
  clear(list);
  show($("canned-empty"), replies.length === 0);
  for (const reply of replies.slice(0, 30)) {
    const button = el("button", { class: "canned-item", attrs: { type: "button", title: "Insert into the reply" } }, [
      el("span", { class: "canned-head" }, [el("span", { class: "shortcut", text: `/${bare(reply.shortcut)}` }), el("span", { class: "canned-title", text: reply.title })]),
      el("span", { class: "canned-body", text: reply.body }),
    ]);
    button.addEventListener("click", () => {
      const record = state.conversations.get(state.activeId);
      if (!record) { toast("Open a conversation first.", "info"); return; }
      insertCanned(record, reply, null);
    });
    list.append(el("li", {}, [button]));
  }
}

export function setupAssist() {
  on("conversation:selected", (record) => suggest(record));
  on("conversation:closed", () => { if (!state.activeId) suggest(null); });
  on("conversation:customer-wrote", (record) => {
    if (record.id !== state.activeId) return;
    clearTimeout(kbTimer);
    kbTimer = setTimeout(() => suggest(record), 1500);
  });
  $("kb-refresh").addEventListener("click", () => suggest(state.conversations.get(state.activeId) || null));
  $("article-close").addEventListener("click", () => $("article-dialog").close());
  $("article-insert").addEventListener("click", () => {
    const record = state.conversations.get(state.activeId);
    $("article-dialog").close();
    if (record && article) insertCanned(record, { id: null, body: article.body || $("article-body").textContent }, null);
  });
  let filterTimer = null;
  $("canned-q").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => loadCanned($("canned-q").value.trim()), 250);
  });
  loadCanned();
}
