// The ticket screens (/tickets): the list with filters and saved views and live SLA badges (tickets-list.js,
// tickets-sla.js), and one ticket (ticket-view.js) to work on (ticket-work.js). Everything people wrote goes in
// with textContent (util.el); only an article's HTML, sanitised by the server, is parsed, and only inside the
// article dialog's own container.
import { $, ApiError, api, el, initials, learnSkew, setCsrf, toast } from "./util.js";
import { state } from "./tickets-common.js";
import { tick } from "./tickets-sla.js";
import { loadList, loadViews, setupList } from "./tickets-list.js";
import { idFromLocation, openTicket } from "./ticket-view.js";
import { setupWork, syncComposer } from "./ticket-work.js";
import { setupNotifications } from "./notifications.js";

async function whoAmI() {
  try {
    const me = await api("GET", "/api/auth/me");
    setCsrf(me.csrf_token);
    state.me = me.user;
    $("me-name").textContent = me.user.display_name;
    $("me-avatar").textContent = initials(me.user.display_name);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      window.location.replace(`/login?next=${encodeURIComponent(window.location.pathname)}`);
    } else {
      toast(`Cannot reach the server: ${error.message}`, "error", 10000);
    }
    return false;
  }
}

async function loadLookups() {
  const [categories, people] = await Promise.all([
    api("GET", "/api/ticket-categories").catch(() => []),
    api("GET", "/api/routing/agents").catch(() => []),
  ]);
  const select = $("filters").elements.category;
  for (const category of categories) {
    state.categories.set(category.code, category);
    if (category.active) select.append(el("option", { text: category.label, attrs: { value: category.code } }));
  }
  for (const person of people) state.people.set(person.id, person.display_name);
}

async function signOut() {
  try { await api("POST", "/api/auth/logout"); } catch (_) { /* the session may be gone already */ }
  window.location.assign("/login?next=/tickets");
}

async function main() {
  const serverTime = document.querySelector('meta[name="server-time"]');
  if (serverTime) learnSkew(serverTime.content);
  if (!(await whoAmI())) return;
  $("sign-out").addEventListener("click", signOut);
  setupNotifications();
  setupList();
  setupWork();
  syncComposer();
  await loadLookups();
  await Promise.all([loadViews(), loadList(), openTicket(idFromLocation())]);
  $("app").setAttribute("aria-busy", "false");
  setInterval(tick, 1000);
}

main();
