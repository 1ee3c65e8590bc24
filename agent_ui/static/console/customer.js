// The customer pane: the screen-pop of the ringing or open contact's customer (GET /api/customers/{id}/360
// shape), search, edit (PATCH), notes and merging a possible duplicate. Every value is set as text.
import { $, ago, api, channelIcon, channelName, clear, confirmDialog, dateOf, el, initials, show, toast } from "./util.js";
import { emit, on, state } from "./state.js";

let shown = null; // {data, ringing}
const view = () => $("customer-view");

const WARRANTY = { active: "In warranty", expiring: "Warranty ends soon", expired: "Warranty expired", none: "No warranty" };
const KIND = { phone: "Phone", email: "Email", chat: "Chat", crm: "CRM id" };

function section(title, count, body) {
  const head = el("h3", { class: "section-title", text: title });
  if (count !== undefined) head.append(el("span", { class: "count", text: count }));
  return el("section", { class: "pop-section" }, [head, body]);
}

/** Show a customer record (the screen-pop); `ringing` marks it as the customer of an offer not yet accepted. */
export function showCustomer(data, { ringing = false } = {}) {
  shown = data ? { data, ringing } : null;
  const root = view();
  clear(root);
  if (!data || !data.customer) {
    root.append(el("div", { class: "placeholder" }, [
      el("div", { class: "placeholder-art", attrs: { "aria-hidden": "true" } }),
      el("p", { text: ringing ? "A new customer: no record yet." : "The customer of the contact you are working on shows here." }),
    ]));
    return;
  }
  const c = data.customer;
  const card = el("div", { class: "pop-card" + (ringing ? " ringing" : "") });
  if (ringing) card.append(el("p", { class: "pop-ringing", text: "Incoming contact" }));
  const headline = el("div", { class: "pop-headline" }, [
    el("div", { class: `avatar big tier-bg-${c.value_tier || "none"}`, text: initials(c.display_name), attrs: { "aria-hidden": "true" } }),
    el("div", { class: "pop-name" }, [
      el("h2", { class: "customer-name", text: c.display_name || "Unnamed customer" }),
      c.organisation ? el("p", { class: "muted", text: c.organisation }) : null,
    ]),
  ]);
  const edit = el("button", { class: "icon-button edit-customer", attrs: { type: "button", "aria-label": "Edit customer", title: "Edit customer" } }, [
    el("span", { class: "icon icon-edit", attrs: { "aria-hidden": "true" } }),
  ]);
  edit.addEventListener("click", () => openEdit(c));
  headline.append(edit);
  card.append(headline);
  const chips = el("div", { class: "chips" });
  if (c.value_tier) chips.append(el("span", { class: `tier tier-${c.value_tier}`, text: c.value_tier, attrs: { title: `Value tier (score ${c.value_score ?? "?"})` } }));
  if (c.lifecycle_stage) chips.append(el("span", { class: "chip", text: c.lifecycle_stage, attrs: { title: "Lifecycle stage" } }));
  if (c.language) chips.append(el("span", { class: "chip", text: c.language.toUpperCase(), attrs: { title: "Language" } }));
  card.append(chips);
  const ids = el("ul", { class: "identities" });
  for (const identity of data.identities || []) {
    ids.append(el("li", {}, [
      el("span", { class: "id-kind", text: KIND[identity.kind] || identity.kind }),
      el("span", { class: "id-value", text: identity.display_value || identity.value }),
      identity.verified ? el("span", { class: "verified", text: "✓", attrs: { title: "verified" } }) : null,
    ]));
  }
  if (ids.children.length) card.append(ids);
  root.append(card);

  const tickets = data.open_tickets || [];
  if (tickets.length) {
    const list = el("ul", { class: "tickets" });
    for (const t of tickets) {
      list.append(el("li", { class: `ticket prio-${t.priority}` }, [
        el("span", { class: "ticket-ref", text: t.reference }),
        el("span", { class: "ticket-subject", text: t.subject }),
        el("span", { class: "chip small", text: t.status }),
      ]));
    }
    root.append(section("Open tickets", tickets.length, list));
  }

  const timeline = el("ol", { class: "timeline" });
  for (const item of data.interactions || []) {
    timeline.append(el("li", { class: `interaction ch-${item.channel}` }, [
      channelIcon(item.channel, "small"),
      el("div", { class: "interaction-body" }, [
        el("p", { class: "interaction-head" }, [
          el("strong", { text: item.subject || channelName(item.channel) }),
          el("span", { class: "muted", text: ` · ${ago(item.started_at)}` }),
        ]),
        item.snippet ? el("p", { class: "snippet", text: item.snippet }) : null,
      ]),
    ]));
  }
  root.append(section("History", (data.interactions || []).length,
    timeline.children.length ? timeline : el("p", { class: "muted small", text: "No earlier contacts." })));

  const orders = data.orders || [];
  if (orders.length) {
    const list = el("ul", { class: "orders" });
    for (const o of orders) {
      const items = el("ul", { class: "items" });
      for (const item of o.items || []) {
        items.append(el("li", {}, [
          el("span", { class: "item-name", text: item.quantity > 1 ? `${item.quantity} × ${item.product_name}` : item.product_name }),
          item.serial_number ? el("span", { class: "muted small", text: ` SN ${item.serial_number}` }) : null,
          el("span", {
            class: `warranty w-${item.warranty}`, text: WARRANTY[item.warranty] || item.warranty,
            attrs: { title: item.warranty_ends_on ? `until ${dateOf(item.warranty_ends_on)}` : null },
          }),
        ]));
      }
      list.append(el("li", { class: "order" }, [
        el("p", { class: "order-head" }, [
          el("strong", { text: `#${o.order_number}` }),
          el("span", { class: "muted", text: ` · ${dateOf(o.ordered_at)} · ${o.status}` }),
          el("span", { class: "order-total", text: `${o.total} ${o.currency}` }),
        ]),
        items,
      ]));
    }
    root.append(section("Orders & products", orders.length, list));
  }

  const notes = el("ul", { class: "notes" });
  for (const n of data.notes || []) notes.append(el("li", {}, [el("p", { text: n.body }), el("span", { class: "muted small", text: dateOf(n.created_at) })]));
  const noteForm = el("form", { class: "note-form" }, [
    el("label", { class: "visually-hidden", text: "Add a note to the customer", attrs: { for: "customer-note" } }),
    el("input", { attrs: { id: "customer-note", placeholder: "Add a note…", maxlength: "10000", autocomplete: "off" } }),
    el("button", { class: "secondary small-button", text: "Add", attrs: { type: "submit" } }),
  ]);
  noteForm.addEventListener("submit", (event) => { event.preventDefault(); addNote(c.id, noteForm.querySelector("input")); });
  root.append(section("Notes", (data.notes || []).length, el("div", {}, [notes, noteForm])));

  const duplicates = data.possible_duplicates || [];
  if (duplicates.length) {
    const list = el("ul", { class: "duplicates" });
    for (const d of duplicates) {
      const merge = el("button", { class: "secondary small-button", text: "Merge", attrs: { type: "button" } });
      merge.addEventListener("click", () => mergeInto(c, d));
      list.append(el("li", {}, [
        el("div", {}, [
          el("strong", { text: d.display_name }),
          el("span", { class: "muted small", text: ` · ${Math.round(d.score)}% · ${(d.reasons || []).join(", ")}` }),
        ]),
        merge,
      ]));
    }
    root.append(section("Possible duplicates", duplicates.length, list));
  }
}

/** Load and show a customer by id. */
export async function loadCustomer(id, options = {}) {
  if (!id) { showCustomer(null, options); return null; }
  try {
    const data = await api("GET", `/api/customers/${id}/360`);
    showCustomer(data, options);
    return data;
  } catch (error) {
    toast(`Could not load the customer: ${error.message}`, "error");
    return null;
  }
}

export function shownCustomerId() { return shown && shown.data && shown.data.customer ? shown.data.customer.id : null; }
export function shownCustomer() { return shown ? shown.data : null; }

async function addNote(customerId, input) {
  const body = input.value.trim();
  if (!body) return;
  try {
    await api("POST", `/api/customers/${customerId}/notes`, { body });
    input.value = "";
    await reloadShown();
  } catch (error) { toast(`The note was not saved: ${error.message}`, "error"); }
}

async function mergeInto(survivor, duplicate) {
  const ok = await confirmDialog(
    "Merge these customers?",
    `${duplicate.display_name} (#${duplicate.customer_id}) will be merged into ${survivor.display_name} (#${survivor.id}): ` +
      "identities, contacts, orders and notes move over. A supervisor can undo a merge.",
    "Merge",
  );
  if (!ok) return;
  try {
    await api("POST", "/api/customers/merge", { survivor_id: survivor.id, merged_id: duplicate.customer_id });
    toast(`${duplicate.display_name} was merged into ${survivor.display_name}.`, "ok");
    await reloadShown();
  } catch (error) { toast(`The merge did not happen: ${error.message}`, "error"); }
}

async function reloadShown() {
  if (!shown || !shown.data || !shown.data.customer) return;
  const data = await loadCustomer(shown.data.customer.id, { ringing: shown.ringing });
  if (data) emit("customer:changed", data);
}

// --- edit ------------------------------------------------------------------------------------------------
let editing = null;
function openEdit(customer) {
  editing = customer;
  const form = $("edit-form");
  for (const name of ["display_name", "given_name", "family_name", "language", "organisation", "lifecycle_stage"]) {
    form.elements[name].value = customer[name] || "";
  }
  $("edit-error").textContent = "";
  $("edit-dialog").showModal();
}

function setupEdit() {
  const form = $("edit-form");
  $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!editing) return;
    const patch = {};
    for (const name of ["display_name", "given_name", "family_name", "language", "organisation", "lifecycle_stage"]) {
      const value = form.elements[name].value.trim();
      if (value !== (editing[name] || "")) patch[name] = value || (name === "display_name" ? "" : null);
    }
    try {
      if (Object.keys(patch).length) await api("PATCH", `/api/customers/${editing.id}`, patch);
      $("edit-dialog").close();
      toast("Customer saved.", "ok");
      await reloadShown();
    } catch (error) { $("edit-error").textContent = error.message; }
  });
}

// --- search ----------------------------------------------------------------------------------------------
function setupSearch() {
  const results = $("search-results");
  $("customer-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = $("customer-q").value.trim();
    clear(results);
    if (!q) { show(results, false); return; }
    show(results, true);
    results.append(el("p", { class: "muted small", text: "Searching…" }));
    try {
      const found = await api("GET", `/api/customers?q=${encodeURIComponent(q)}&limit=8`);
      clear(results);
      const items = (found && found.items) || [];
      if (!items.length) results.append(el("p", { class: "muted small", text: "Nobody found." }));
      const list = el("ul", { class: "result-list" });
      for (const item of items) {
        const id = item.id || item.customer_id;
        const button = el("button", { class: "result", attrs: { type: "button" } }, [
          el("span", { class: "avatar", text: initials(item.display_name), attrs: { "aria-hidden": "true" } }),
          el("span", { class: "result-name", text: item.display_name || `Customer #${id}` }),
          item.score !== undefined ? el("span", { class: "muted small", text: `${Math.round(item.score)}%` }) : null,
        ]);
        button.addEventListener("click", async () => {
          show(results, false);
          await loadCustomer(id);
          view().focus();
        });
        list.append(el("li", {}, [button]));
      }
      results.append(list);
      const close = el("button", { class: "link-button", text: "Close results", attrs: { type: "button" } });
      close.addEventListener("click", () => { show(results, false); $("customer-q").focus(); });
      results.append(close);
    } catch (error) {
      clear(results);
      results.append(el("p", { class: "error-text", text: error.message }));
    }
  });
}

/** While an offer rings its customer is shown; afterwards, the open conversation's again. */
function setupOfferPop() {
  on("offer:shown", (offer) => showCustomer(offer.customer || null, { ringing: true }));
  on("offer:gone", () => {
    if (state.offers.size) {
      const next = [...state.offers.values()][0];
      showCustomer(next.customer || null, { ringing: true });
    } else {
      emit("customer:restore", null);
    }
  });
}

export function setupCustomerPane() {
  setupEdit();
  setupSearch();
  setupOfferPop();
}
