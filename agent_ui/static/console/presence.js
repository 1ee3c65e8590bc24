// The presence menu: available, away with a reason (from /api/away-reasons), offline; time in the state.
import { $, clock, describe, el, learnSkew, now, toast } from "./util.js";
import { call, emit, on, state } from "./state.js";

const LABEL = { available: "Available", away: "Away", offline: "Offline", wrap_up: "Wrap-up", wrapping: "Wrap-up", busy: "Busy" };

export function setPresence(presence, live) {
  if (!presence) return;
  if (live && presence.since) learnSkew(presence.since);
  state.presence = presence;
  const reason = presence.state === "away" && presence.reason
    ? (state.lists.away.find((r) => r.code === presence.reason) || { label: presence.reason }).label : null;
  $("presence-label").textContent = reason ? `Away · ${reason}` : LABEL[presence.state] || presence.state;
  $("presence-dot").className = `dot state-${presence.state}`;
  $("presence-button").dataset.state = presence.state;
  tick();
  emit("presence", presence);
}

export function tick() {
  const since = Date.parse(state.presence.since || "");
  $("presence-time").textContent = Number.isNaN(since) ? "" : clock((now() - since) / 1000);
}

export async function choose(stateName, reason) {
  closeMenu();
  const payload = { state: stateName };
  if (reason) payload.reason = reason;
  const answer = await call("presence:set", payload);
  if (!answer.ok) { toast(describe(answer), "error"); return; }
  if (answer.presence) setPresence(answer.presence, true);
}

function menu() { return $("presence-menu"); }
function items() { return [...menu().querySelectorAll("[role=menuitem]")]; }

export function openMenu() {
  menu().classList.remove("hidden");
  $("presence-button").setAttribute("aria-expanded", "true");
  const current = items().find((item) => item.dataset.state === state.presence.state && (item.dataset.reason || null) === (state.presence.reason || null));
  (current || items()[0]).focus();
}

function closeMenu() {
  menu().classList.add("hidden");
  $("presence-button").setAttribute("aria-expanded", "false");
}

export function renderAwayReasons() {
  const box = $("away-reasons");
  box.replaceChildren();
  const reasons = state.lists.away.length ? state.lists.away : [{ code: null, label: "Away" }];
  for (const reason of reasons) {
    const item = el("button", { class: "menu-item", attrs: { type: "button", role: "menuitem" } }, [
      el("span", { class: "dot state-away", attrs: { "aria-hidden": "true" } }),
      el("span", { text: reason.label || reason.code }),
    ]);
    item.dataset.state = "away";
    if (reason.code) item.dataset.reason = reason.code;
    box.append(item);
  }
}

export function setupPresence() {
  renderAwayReasons();
  $("presence-button").addEventListener("click", () => (menu().classList.contains("hidden") ? openMenu() : closeMenu()));
  menu().addEventListener("click", (event) => {
    const item = event.target.closest("[role=menuitem]");
    if (item) choose(item.dataset.state, item.dataset.reason || null);
  });
  menu().addEventListener("keydown", (event) => {
    const list = items();
    const index = list.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      list[(index + (event.key === "ArrowDown" ? 1 : -1) + list.length) % list.length].focus();
    } else if (event.key === "Escape") {
      closeMenu();
      $("presence-button").focus();
    } else if (event.key === "Tab") {
      closeMenu();
    }
  });
  document.addEventListener("click", (event) => { if (!$("presence").contains(event.target)) closeMenu(); });
  $("empty-available").addEventListener("click", () => choose("available"));
  on("presence", () => {});
}
