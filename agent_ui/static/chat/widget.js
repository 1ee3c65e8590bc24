// The contact centre's chat on any website, with one tag:
//   <script src="https://OUR-HOST/chat/widget.js" async></script>
// It adds a launcher button and a frame of OUR-HOST/chat?embed=1 (the website's origin must be listed in
// CC_CHAT_EMBED_ORIGINS). The chat itself runs in the frame, on our origin; this script only opens and
// closes it, and it touches nothing else on the page.
(function () {
  "use strict";
  if (window.__contactCentreChat) return;
  window.__contactCentreChat = true;

  const script = document.currentScript ||
    Array.from(document.getElementsByTagName("script")).find((s) => /\/chat\/widget\.js(\?|$)/.test(s.src));
  if (!script) return;
  const origin = new URL(script.src, window.location.href).origin;
  const OPENED_KEY = "cc-chat-opened";
  const SVG = "http://www.w3.org/2000/svg";
  const phone = window.matchMedia("(max-width: 520px)");
  let frame = null;
  let open = false;

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Chat with us");
  launcher.setAttribute("aria-expanded", "false");
  launcher.style.cssText = [
    "position:fixed", "right:20px", "bottom:20px", "z-index:2147483000", "width:60px", "height:60px",
    "border:0", "border-radius:50%", "cursor:pointer", "color:#fff", "display:grid", "place-items:center",
    "background:linear-gradient(135deg,#2f6fed,#7a4cf0)", "box-shadow:0 10px 24px rgba(47,111,237,.35)",
    "transition:transform .15s",
  ].join(";");
  const BUBBLE = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const CHEVRON = "M5.6 8.6 12 15l6.4-6.4 1.4 1.4L12 17.8 4.2 10z";
  const glyph = icon(BUBBLE);
  launcher.append(glyph);
  const badge = document.createElement("span");
  badge.setAttribute("aria-hidden", "true");
  badge.style.cssText = "position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 5px;" +
    "border-radius:10px;background:#e5484d;color:#fff;font:600 12px/20px system-ui,sans-serif;display:none";
  launcher.append(badge);
  launcher.addEventListener("mouseenter", () => { launcher.style.transform = "scale(1.06)"; });
  launcher.addEventListener("mouseleave", () => { launcher.style.transform = ""; });
  launcher.addEventListener("click", () => (open ? close() : show()));

  function icon(path) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    const shape = document.createElementNS(SVG, "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", "currentColor");
    svg.append(shape);
    return svg;
  }

  function ensureFrame() {
    if (frame) return frame;
    frame = document.createElement("iframe");
    frame.src = origin + "/chat?embed=1";
    frame.title = "Chat with us";
    frame.id = "cc-chat-frame";
    launcher.setAttribute("aria-controls", frame.id);
    place();
    frame.addEventListener("load", () => tell(open ? "open" : "close"));
    document.body.append(frame);
    return frame;
  }

  function place() {
    if (!frame) return;
    const common = "position:fixed;z-index:2147483001;border:0;background:#fff;color-scheme:normal;" +
      "display:" + (open ? "block" : "none") + ";";
    frame.style.cssText = common + (phone.matches
      ? "inset:0;width:100%;height:100%;border-radius:0"
      : "right:20px;bottom:92px;width:380px;height:min(620px,calc(100vh - 120px));border-radius:18px;" +
        "box-shadow:0 24px 48px -12px rgba(16,24,40,.35),0 2px 6px rgba(16,24,40,.1)");
    launcher.style.display = open && phone.matches ? "none" : "grid";
    glyph.firstChild.setAttribute("d", open ? CHEVRON : BUBBLE);
  }

  function show() {
    open = true;
    ensureFrame();
    place();
    launcher.setAttribute("aria-expanded", "true");
    badge.style.display = "none";
    launcher.setAttribute("aria-label", "Chat with us");
    remember();
    tell("open");
    frame.focus();
  }

  function close() {
    open = false;
    place();
    launcher.setAttribute("aria-expanded", "false");
    tell("close");
    launcher.focus();
  }

  function tell(type) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ source: "cc-chat-host", type }, origin);
  }

  function remember() {
    try { window.localStorage.setItem(OPENED_KEY, "1"); } catch (_) { /* storage blocked */ }
  }

  function openedBefore() {
    try { return window.localStorage.getItem(OPENED_KEY) === "1"; } catch (_) { return false; }
  }

  window.addEventListener("message", (event) => {
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    const data = event.data || {};
    if (data.source !== "cc-chat") return;
    if (data.type === "close" && open) close();
    if (data.type === "unread" && !open && data.count > 0) {
      badge.textContent = data.count > 9 ? "9+" : String(data.count);
      badge.style.display = "block";
      launcher.setAttribute("aria-label", "Chat with us (" + data.count + " new)");
    }
  });
  phone.addEventListener("change", place);

  function start() {
    document.body.append(launcher);
    if (openedBefore()) ensureFrame(); // a returning visitor: resume the chat in the background
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
