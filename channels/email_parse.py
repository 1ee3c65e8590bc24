"""Reading an email (RFC 5322 bytes) into what the channel needs, whatever state it arrives in.

Bodies are read with the standard library's `policy.default`; headers are decoded one by one, each
failure replaced by the best readable text, since mail in the wild carries unknown charsets, raw 8-bit
headers, broken encoded-words and missing fields. Nothing here raises on bad input: what could not be
read is listed in `defects`.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message

from channels.email_text import html_to_text, sanitise_html

MAX_DEPTH = 20
MAX_PARTS = 500
MAX_HEADER_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ADDRESS = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+\.[^@\s<>()\[\]\\,;:\"]+$")


@dataclass
class Attachment:
    """A file that came with the message, as sent (its name is not trusted)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    """The parts of a message the channel uses."""

    message_id: str | None = None
    from_name: str = ""
    from_address: str | None = None
    reply_to: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    date: str = ""
    in_reply_to: str = ""
    references: str = ""
    text: str = ""
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = "text/plain"
    dsn_failed: list[str] = field(default_factory=list)
    dsn_original_ids: list[str] = field(default_factory=list)
    is_dsn: bool = False
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """The first value of a header, decoded ("" when absent)."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    @property
    def safe_html(self) -> str | None:
        """The HTML body sanitised for display (None when there is none)."""
        return sanitise_html(self.html) if self.html else None


def parse(raw: bytes) -> ParsedEmail:
    """Read a message; never raises for malformed input."""
    result = ParsedEmail()
    headers_view = email.message_from_bytes(raw, policy=policy.compat32)
    for name, value in headers_view.raw_items():
        result.headers.setdefault(name.lower(), []).append(decode_header(value))
    _read_headers(result)
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is lenient; this is a last resort
        result.defects.append(f"unreadable structure: {type(exc).__name__}")
        result.text = _decode(raw.split(b"\n\n", 1)[-1], None)
        return result
    result.content_type = _safe(lambda: message.get_content_type(), "text/plain")
    counter = [0]
    _walk(message, result, 0, counter)
    if not result.text and result.html:
        result.text = html_to_text(result.html)
    result.text = _CONTROL.sub("", result.text).replace("\r\n", "\n").strip()
    return result


def decode_header(value: object) -> str:
    """A header's text: encoded-words decoded, raw 8-bit read as UTF-8 (else Windows-1252), control
    characters removed, folded onto one line, at most MAX_HEADER_CHARS."""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = str(value or "")
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # raw 8-bit: each word as UTF-8, else Windows-1252
        raw = text.encode("ascii", "surrogateescape")
        text = " ".join(_decode(word, None) for word in raw.split(b" "))
    if "=?" in text:
        try:
            parts = email.header.decode_header(text)
            text = "".join(
                _decode(chunk, charset) if isinstance(chunk, bytes) else chunk for chunk, charset in parts
            )
        except Exception:  # an encoded-word too broken to decode stays as written
            text = str(text)
    text = _CONTROL.sub("", " ".join(text.split()))
    return text[:MAX_HEADER_CHARS]


def normalise_address(raw: str) -> str | None:
    """A bare address, case-folded, or None when it is not one."""
    _name, address = email.utils.parseaddr(raw or "")
    address = address.strip().strip("<>").casefold()
    return address if address and len(address) <= 320 and _ADDRESS.match(address) else None


def _read_headers(result: ParsedEmail) -> None:
    from_value = result.header("from")
    pairs = _addresses(from_value)
    if pairs:
        result.from_name, result.from_address = pairs[0]
    elif from_value:
        result.defects.append("From holds no readable address")
    reply = _addresses(result.header("reply-to"))
    result.reply_to = reply[0][1] if reply else None
    result.to = [address for _, address in _addresses(", ".join(result.headers.get("to", [])))]
    result.cc = [address for _, address in _addresses(", ".join(result.headers.get("cc", [])))]
    result.subject = result.header("subject")[:998]
    result.date = result.header("date")
    message_id = re.search(r"<[^<>\s]{1,250}>", result.header("message-id"))
    result.message_id = message_id[0] if message_id else None
    result.in_reply_to = result.header("in-reply-to")
    result.references = " ".join(result.headers.get("references", []))


def _addresses(value: str) -> list[tuple[str, str]]:
    try:
        pairs = email.utils.getaddresses([value]) if value else []
    except Exception:
        return []
    found = []
    for name, address in pairs:
        normalised = normalise_address(address)
        if normalised:
            found.append((name.strip()[:200], normalised))
    return found


def _walk(part: Message, result: ParsedEmail, depth: int, counter: list[int]) -> None:
    counter[0] += 1
    if depth > MAX_DEPTH or counter[0] > MAX_PARTS:
        result.defects.append("too deeply nested or too many parts; the rest was not read")
        return
    content_type = _safe(lambda: part.get_content_type(), "application/octet-stream")
    if content_type == "message/delivery-status":
        result.is_dsn = True
        _read_delivery_status(part, result)
        return
    if content_type == "text/rfc822-headers":
        _original_ids(_decode(_payload(part), None), result)
        return
    if content_type == "message/rfc822":
        inner = _safe(lambda: part.get_payload(0), None)
        data = _safe(lambda: inner.as_bytes(policy=policy.compat32), b"") if inner is not None else b""
        if result.content_type == "multipart/report":
            _original_ids(_decode(data, None), result)
        subject = decode_header(inner.get("subject", "")) if inner is not None else ""
        result.attachments.append(Attachment(f"{subject or 'message'}.eml", "message/rfc822", data))
        return
    if part.is_multipart():
        if content_type == "multipart/report":
            result.is_dsn = result.is_dsn or "delivery-status" in str(part.get_param("report-type") or "")
        payload = _safe(lambda: part.get_payload(), [])
        for child in payload if isinstance(payload, list) else []:
            _walk(child, result, depth + 1, counter)
        return
    disposition = (_safe(lambda: part.get_content_disposition(), None) or "").lower()
    filename = _safe(lambda: part.get_filename(), None)
    if content_type in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        text = _text(part, result)
        if content_type == "text/plain" and not result.text:
            result.text = text
            return
        if content_type == "text/html" and result.html is None:
            result.html = text
            return
    if content_type.startswith("multipart/"):
        return
    result.attachments.append(
        Attachment(decode_header(filename) if filename else "", content_type, _payload(part))
    )


def _text(part: Message, result: ParsedEmail) -> str:
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str) and "\ufffd" not in content:
                return content
        except Exception as exc:  # unknown charset, broken transfer encoding
            result.defects.append(f"body not decodable as declared ({type(exc).__name__})")
    return _decode(_payload(part), _safe(lambda: part.get_content_charset(), None))


def _payload(part: Message) -> bytes:
    data = _safe(lambda: part.get_payload(decode=True), None)
    if isinstance(data, bytes):
        return data
    raw = _safe(lambda: part.get_payload(), "")
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _decode(data: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", "replace")


def _read_delivery_status(part: Message, result: ParsedEmail) -> None:
    payload = _safe(lambda: part.get_payload(), [])
    blocks = payload if isinstance(payload, list) else []
    if not blocks:  # sent as plain text: field blocks separated by blank lines
        text = _decode(_payload(part), None)
        blocks = [email.message_from_string(chunk) for chunk in re.split(r"\r?\n\r?\n", text) if chunk]
    for block in blocks:
        action = str(block.get("action", "")).strip().lower()
        status = str(block.get("status", "")).strip()
        recipient = str(block.get("final-recipient") or block.get("original-recipient") or "")
        if not recipient or not (action == "failed" or status.startswith("5")):
            continue
        address = normalise_address(recipient.split(";", 1)[-1])
        if address and address not in result.dsn_failed:
            result.dsn_failed.append(address)


def _original_ids(text: str, result: ParsedEmail) -> None:
    match = re.search(r"(?im)^message-id:\s*(<[^<>\s]{1,250}>)", text)
    if match and match[1] not in result.dsn_original_ids:
        result.dsn_original_ids.append(match[1])


def _safe(read, default):  # type: ignore[no-untyped-def]
    try:
        return read()
    except Exception:
        return default
