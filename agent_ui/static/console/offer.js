// The offer: a ringing banner per offered contact (sound made with the Web Audio API, countdown to expires_at,
// Accept / Reject with Alt+A / Alt+R). Ringing stops when `offer:ended` arrives, in every tab.
import { $, clock, channelIcon, channelName, describe, el, learnSkew, toast } from "./util.js";
import { call, emit, on, state } from "./state.js";

// --- the ringer: a soft two-note chime every two seconds, generated, so no sound file is downloaded -------
let audio = null;
let ringTimer = null;

function audioContext() {
  if (!audio) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    audio = new Context();
  }
  return audio;
}

/** Browsers allow sound only after the page has been used: unlock it on the first click or key. */
export function unlockSound() {
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

function chime() {
  const ctx = audioContext();
  if (!ctx || ctx.state !== "running") return;
  const start = ctx.currentTime + 0.02;
  [[659.25, 0], [880, 0.18], [659.25, 0.6], [880, 0.78]].forEach(([frequency, offset]) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.18, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.5);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start + offset);
    osc.stop(start + offset + 0.55);
  });
}

function ring(on) {
  if (on && !ringTimer) {
    chime();
    ringTimer = setInterval(chime, 2200);
  } else if (!on && ringTimer) {
    clearInterval(ringTimer);
    ringTimer = null;
  }
}

// --- banners ---------------------------------------------------------------------------------------------
const banners = new Map(); // reservation_id -> {node, offer}

/** An offer arrived (or was in the `state` payload): show its banner, ring, and pop its customer. */
export function addOffer(offer, live) {
  if (!offer || !offer.reservation_id) return;
  const durationMs = offerDuration(offer);
  if (live && offer.offered_at) learnSkew(offer.offered_at);
  offer.deadline = Date.now() + durationMs;
  offer.durationMs = Math.max(1000, (offer.timeout_seconds || durationMs / 1000) * 1000);
  state.offers.set(offer.reservation_id, offer);
  if (!banners.has(offer.reservation_id)) banners.set(offer.reservation_id, { node: banner(offer), offer });
  refresh();
  const name = customerName(offer);
  $("offer-live").textContent = `Incoming ${channelName(offer.channel)} from ${name}. Alt+A to accept, Alt+R to reject.`;
  emit("offer:shown", offer);
}

function offerDuration(offer) {
  const expires = Date.parse(offer.expires_at), offered = Date.parse(offer.offered_at);
  if (!Number.isNaN(expires) && !Number.isNaN(offered) && expires > offered) return expires - offered;
  return (offer.timeout_seconds || 30) * 1000;
}

function customerName(offer) {
  const c = offer.customer && offer.customer.customer;
  return (c && c.display_name) || (offer.conversation && offer.conversation.customer_name) || "a new customer";
}

/** The offer is over (accepted, rejected, timed out, withdrawn): remove its banner; stop ringing if none left. */
export function endOffer(reservationId, reason) {
  const entry = banners.get(reservationId);
  const offer = state.offers.get(reservationId);
  state.offers.delete(reservationId);
  if (entry) {
    entry.node.classList.add("leaving");
    setTimeout(() => entry.node.remove(), 250);
    banners.delete(reservationId);
  }
  refresh();
  if (offer && (reason === "timed_out" || reason === "withdrawn" || reason === "cancelled")) {
    const why = { timed_out: "was not answered in time", withdrawn: "was withdrawn", cancelled: "was cancelled" }[reason];
    toast(`The ${channelName(offer.channel)} from ${customerName(offer)} ${why}.`, "info");
  }
  $("offer-live").textContent = "";
  emit("offer:gone", { reservationId, reason, offer });
}

function banner(offer) {
  const node = $("offer-template").content.firstElementChild.cloneNode(true);
  node.dataset.reservation = offer.reservation_id;
  node.classList.add(`ch-${offer.channel}`);
  node.querySelector(".offer-ring").replaceChildren(channelIcon(offer.channel));
  node.querySelector(".offer-channel").textContent = channelName(offer.channel);
  node.querySelector(".offer-queue").textContent = offer.queue || "";
  if (offer.priority) node.querySelector(".offer-priority").textContent = ` · priority ${offer.priority}`;
  node.querySelector(".offer-name").textContent = customerName(offer);
  const conversation = offer.conversation || {};
  node.querySelector(".offer-snippet").textContent = conversation.subject || conversation.snippet || "";
  if (offer.transfer_note) {
    const transfer = node.querySelector(".offer-transfer");
    transfer.textContent = `Transferred: ${offer.transfer_note}`;
    transfer.classList.remove("hidden");
  }
  const c = offer.customer && offer.customer.customer;
  if (c && c.value_tier) node.querySelector(".offer-kicker").append(el("span", { class: `tier tier-${c.value_tier}`, text: c.value_tier }));
  node.setAttribute("aria-label", `Incoming ${channelName(offer.channel)} from ${customerName(offer)}`);
  node.querySelector(".accept").addEventListener("click", () => accept(offer.reservation_id));
  node.querySelector(".reject").addEventListener("click", () => reject(offer.reservation_id));
  return node;
}

function refresh() {
  const area = $("offers");
  for (const { node } of banners.values()) if (!node.isConnected) area.append(node);
  document.body.classList.toggle("ringing", banners.size > 0);
  ring(banners.size > 0);
  tick();
}

/** Countdowns, once a second (and on change). */
export function tick() {
  for (const { node, offer } of banners.values()) {
    const left = Math.max(0, offer.deadline - Date.now());
    node.querySelector(".offer-seconds").textContent = clock(left / 1000);
    node.querySelector(".offer-bar i").style.width = `${Math.min(100, (100 * left) / offer.durationMs)}%`;
    node.classList.toggle("urgent", left < 8000);
  }
}

function firstOffer() {
  const first = banners.keys().next();
  return first.done ? null : first.value;
}

export async function accept(reservationId = firstOffer()) {
  if (!reservationId) return;
  const entry = banners.get(reservationId);
  if (entry) entry.node.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  ring(false);
  const answer = await call("offer:accept", { reservation_id: reservationId });
  if (!answer.ok) {
    if (entry) entry.node.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    toast(describe(answer), "error");
    if (answer.error === "not_found" || answer.error === "conflict") endOffer(reservationId, "gone");
    else refresh();
    return;
  }
  endOffer(reservationId, "accepted");
  if (answer.conversation) emit("conversation:accepted", answer.conversation);
}

export async function reject(reservationId = firstOffer()) {
  if (!reservationId) return;
  const answer = await call("offer:reject", { reservation_id: reservationId });
  if (!answer.ok && answer.error !== "not_found") toast(describe(answer), "error");
  endOffer(reservationId, "rejected");
}

on("state", (payload) => {
  const known = new Set((payload.offers || []).map((o) => o.reservation_id));
  for (const id of [...banners.keys()]) if (!known.has(id)) endOffer(id, "gone");
  for (const offer of payload.offers || []) if (!banners.has(offer.reservation_id)) addOffer(offer, false);
});
