// The console's state in one place, the /agent socket, and a tiny event hub between the modules.
/* global io */

export const state = {
  me: null, // {id, display_name, role, team_id}
  agent: null, // from the `state` event
  presence: { state: "offline", reason: null, since: null },
  offers: new Map(), // reservation_id -> offer (with .deadline, local ms)
  conversations: new Map(), // conversation id -> record (see workspace.js)
  order: [], // conversation ids in tab order
  activeId: null,
  capacity: {},
  twilioVoice: false,
  connected: false,
  lists: { dispositions: [], reasons: [], away: [], canned: [] },
};

const handlers = new Map();
/** Listen to a console-internal event. */
export function on(name, fn) {
  if (!handlers.has(name)) handlers.set(name, []);
  handlers.get(name).push(fn);
}
/** Tell the modules listening that something happened. */
export function emit(name, data) {
  for (const fn of handlers.get(name) || []) {
    try { fn(data); } catch (error) { console.error(name, error); } // eslint-disable-line no-console
  }
}

export const socket = io("/agent", { autoConnect: false, transports: ["websocket", "polling"] });
const ACK_TIMEOUT_MS = 10000;

/** Send a client event and resolve to its acknowledgement ({ok: true, ...} or {ok: false, error, message}). */
export function call(event, data = {}) {
  if (!socket.connected) return Promise.resolve({ ok: false, error: "disconnected", message: "" });
  return new Promise((resolve) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, data, (error, answer) => {
      if (error) resolve({ ok: false, error: "timeout", message: "" });
      else resolve(answer && typeof answer === "object" ? answer : { ok: false, error: "server_error", message: "" });
    });
  });
}
