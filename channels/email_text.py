"""The text of an email as an agent sees it: HTML sanitised (nh3) or flattened, quoted replies cut off."""

from __future__ import annotations

import html
import re

import nh3

# Remote images are trackers, so none are kept; links open without the referrer.
ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS) - {"img"}
_BLOCK_END = re.compile(r"(?i)<\s*(br\s*/?|/p|/div|/li|/tr|/h[1-6]|/blockquote)\s*>")
_SCRIPT_STYLE = re.compile(r"(?is)<\s*(script|style|head|title)\b.*?<\s*/\s*\1\s*>")
_BLANK_LINES = re.compile(r"\n{3,}")

# A line that opens the quoted message a client appends to a reply, in the languages we meet most.
_QUOTE_HEADERS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^on\b.{0,200}\bwrote:\s*$",
        r"^le\b.{0,200}\ba écrit\s*:\s*$",
        r"^am\b.{0,200}\bschrieb\b.{0,80}:\s*$",
        r"^el\b.{0,200}\bescribió:\s*$",
        r"^em\b.{0,200}\bescreveu:\s*$",
        r"^il giorno\b.{0,200}\bha scritto:\s*$",
        r"^op\b.{0,200}\bschreef\b.{0,80}:\s*$",
        r"^-{2,}\s*original message\s*-{2,}\s*$",
        r"^-{2,}\s*(mensaje original|message d'origine|ursprüngliche nachricht)\s*-{2,}\s*$",
        r"^_{10,}\s*$",
        r"^from:\s.+$",
    )
]


def sanitise_html(raw: str) -> str:
    """HTML safe to show in the agent's browser: no scripts, styles, handlers, images or unsafe links."""
    return nh3.clean(raw, tags=set(ALLOWED_TAGS), link_rel="noopener noreferrer nofollow")


def html_to_text(raw: str) -> str:
    """Plain text of an HTML body (for messages that have no text part)."""
    text = _SCRIPT_STYLE.sub(" ", raw)
    text = _BLOCK_END.sub("\n", text)
    text = html.unescape(nh3.clean(text, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply: everything before the quoted earlier message (the whole text if nothing
    is left without it)."""
    lines = text.splitlines()
    cut = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">") and _rest_is_quote(lines[index:]):
            cut = index
            break
        if any(pattern.match(stripped) for pattern in _QUOTE_HEADERS) and index > 0:
            cut = index
            break
    new = "\n".join(lines[:cut]).rstrip()
    # "On ... wrote:" may be wrapped onto two lines by the client; drop a dangling first half.
    if cut < len(lines) and new.splitlines() and re.match(r"(?i)^(on|le|am|el)\b", new.splitlines()[-1]):
        last = new.splitlines()[-1]
        if "," in last or re.search(r"\d", last):
            new = "\n".join(new.splitlines()[:-1]).rstrip()
    return new if new.strip() else text.strip()


def _rest_is_quote(lines: list[str]) -> bool:
    """True when what follows is quoted lines and blank lines, with a few lines of our own at most."""
    own = sum(1 for line in lines if line.strip() and not line.strip().startswith(">"))
    return own <= 3
