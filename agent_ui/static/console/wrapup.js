// Wrap-up after "End contact": disposition and contact reason (lists admins keep), a note, and optionally a
// ticket or complaint prefilled from the conversation; `wrapup:submit`; a countdown to wrap_up_until.
import { clock, describe, el, now, show, toast } from "./util.js";
import { call, emit, state } from "./state.js";

function fillSelect(select, items, placeholder) {
  const keep = select.value;
  select.replaceChildren(el("option", { text: placeholder, attrs: { value: "" } }));
  for (const item of items) select.append(el("option", { text: item.label || item.code, attrs: { value: item.code } }));
  if (keep) select.value = keep;
}

export function setupWrapup(record) {
  const form = record.panel.querySelector(".wrapup");
  const uid = `w${record.id}`;
  form.querySelectorAll("select, input, textarea").forEach((field, i) => { field.id = `${uid}-${i}`; });
  const ticket = form.querySelector(".wrapup-ticket");
  ticket.addEventListener("change", () => {
    show(form.querySelector(".ticket-fields"), ticket.checked);
    if (ticket.checked) prefillTicket(record);
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(record); });
  record.wrapup = { form };
}

/** Refill every open wrap-up form's lists (they load once the console starts). */
export function refreshLists() {
  for (const record of state.conversations.values()) if (record.wrapup) fillLists(record);
}

function fillLists(record) {
  const form = record.wrapup.form;
  const dispositions = state.lists.dispositions;
  const select = form.querySelector(".wrapup-disposition");
  if (dispositions.length) {
    fillSelect(select, dispositions, "Choose…");
  } else if (select.tagName === "SELECT") {
    // the list is not available (yet): let the agent type the code
    const input = el("input", { class: "wrapup-disposition", attrs: { id: select.id, required: true, maxlength: "64", placeholder: "disposition code" } });
    select.replaceWith(input);
  }
  const reason = form.querySelector(".wrapup-reason");
  fillSelect(reason, state.lists.reasons, "None");
  show(reason.closest("label"), state.lists.reasons.length > 0);
}

/** Wrap-up started: swap the composer for the form and run the countdown. */
export function showWrapup(record) {
  const { form } = record.wrapup;
  const first = form.classList.contains("hidden");
  if (first) {
    fillLists(record);
    show(record.panel.querySelector(".composer"), false);
    show(form, true);
    record.panel.classList.add("wrapping");
  }
  const timer = form.querySelector(".wrapup-timer");
  clearInterval(record.wrapup.timer);
  const until = Date.parse(record.summary.wrap_up_until || "");
  const update = () => {
    if (Number.isNaN(until)) { timer.textContent = ""; return; }
    const left = (until - now()) / 1000;
    timer.textContent = left > 0 ? `${clock(left)} left` : "Time is up";
    timer.classList.toggle("late", left <= 15);
  };
  update();
  record.wrapup.timer = setInterval(update, 1000);
  if (first && state.activeId === record.id) form.querySelector(".wrapup-disposition").focus();
}

function prefillTicket(record) {
  const form = record.wrapup.form;
  const subject = form.querySelector(".ticket-subject");
  const description = form.querySelector(".ticket-description");
  const s = record.summary;
  if (!subject.value) subject.value = s.subject || `${s.channel === "voice" ? "Call" : "Contact"} from ${s.customer_name || "a customer"}`;
  if (!description.value) {
    const last = [...record.messages.values()].filter((m) => m.direction === "in").pop();
    description.value = last ? last.body : s.snippet || "";
  }
  form.querySelector(".ticket-category").value = s.complaint ? "complaint" : "service_request";
}

async function submit(record) {
  const form = record.wrapup.form;
  const error = form.querySelector(".wrapup-error");
  error.textContent = "";
  const disposition = form.querySelector(".wrapup-disposition").value.trim();
  if (!disposition) {
    error.textContent = "Choose a disposition.";
    form.querySelector(".wrapup-disposition").focus();
    return;
  }
  const payload = { task_id: record.summary.task_id, disposition };
  const reason = form.querySelector(".wrapup-reason").value;
  if (reason) payload.reason = reason;
  const note = form.querySelector(".wrapup-note").value.trim();
  if (note) payload.note = note;
  if (form.querySelector(".wrapup-ticket").checked) {
    payload.ticket = {
      category: form.querySelector(".ticket-category").value,
      subject: form.querySelector(".ticket-subject").value.trim(),
      description: form.querySelector(".ticket-description").value.trim(),
    };
    const priority = form.querySelector(".ticket-priority").value;
    if (priority) payload.ticket.priority = priority;
    if (!payload.ticket.subject) { error.textContent = "The ticket needs a subject."; return; }
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const answer = await call("wrapup:submit", payload);
  button.disabled = false;
  if (!answer.ok) { error.textContent = describe(answer); return; }
  clearInterval(record.wrapup.timer);
  const ticket = answer.ticket;
  toast(ticket ? `Wrapped up. Ticket ${ticket.reference || "T-" + ticket.id} created.` : "Wrapped up. Ready for the next contact.", "ok");
  form.querySelector(".wrapup-head h3").textContent = "Wrapped up";
  button.disabled = true;
  if (answer.conversation) emit("conversation:wrapped", answer.conversation);
}
