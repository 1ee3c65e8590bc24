"""Our Message-IDs, signed so that a reply can be threaded by its headers and a forged one cannot attach,
and the conversation tag in subjects.

A Message-ID we write looks like `<cc.42.5f1c9a0b7e.9b1f0c2d4e6a8b0c1d2e@support.example.com>`: the
conversation (42), a random nonce, and an HMAC-SHA256 of both under the application's secret key (80 bits
shown). Only we can make one that verifies, so a reply carrying it may join conversation 42 whoever sends
it. The subject tag `[#C-42]` is only a hint: it is believed for the conversation's own customer alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_OURS = re.compile(r"^<?cc\.(\d{1,18})\.([0-9a-f]{10})\.([0-9a-f]{20})@[^>\s]+>?$")
_TAG = re.compile(r"\[#([CT])-(\d{1,18})\]", re.IGNORECASE)
_IDS = re.compile(r"<[^<>\s]{1,250}>")


def _mac(key: bytes, conversation_id: int, nonce: str) -> str:
    digest = hmac.new(key, f"email-message-id|{conversation_id}|{nonce}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def make_message_id(key: bytes, conversation_id: int, domain: str) -> str:
    """A new signed Message-ID (with angle brackets) for a message of the conversation."""
    nonce = secrets.token_hex(5)
    return f"<cc.{conversation_id}.{nonce}.{_mac(key, conversation_id, nonce)}@{domain}>"


def verified_conversation(key: bytes, message_id: str) -> int | None:
    """The conversation of one of our Message-IDs whose signature holds, else None."""
    match = _OURS.match(message_id.strip())
    if match is None:
        return None
    conversation_id, nonce, mac = int(match[1]), match[2], match[3]
    return conversation_id if hmac.compare_digest(mac, _mac(key, conversation_id, nonce)) else None


def referenced_ids(in_reply_to: str, references: str) -> list[str]:
    """Message-IDs a reply refers to, the most telling first (In-Reply-To, then References newest first)."""
    found: list[str] = []
    for candidate in _IDS.findall(in_reply_to or "") + list(reversed(_IDS.findall(references or ""))):
        if candidate not in found:
            found.append(candidate)
    return found[:50]


def subject_tag(conversation_id: int) -> str:
    """The tag we put in subjects: `[#C-42]`."""
    return f"[#C-{conversation_id}]"


def tag_in_subject(subject: str) -> tuple[str, int] | None:
    """("C", conversation id) or ("T", ticket id) from a tag in the subject, else None."""
    match = _TAG.search(subject or "")
    return (match[1].upper(), int(match[2])) if match else None


def reply_subject(subject: str, conversation_id: int) -> str:
    """`Re: <subject> [#C-42]`, without piling up Re: prefixes or tags."""
    bare = _TAG.sub("", subject or "").strip()
    while re.match(r"(?i)^(re|aw|sv|fw|fwd|tr)\s*:\s*", bare):
        bare = re.sub(r"(?i)^(re|aw|sv|fw|fwd|tr)\s*:\s*", "", bare, count=1).strip()
    return f"Re: {bare or 'Your message'} {subject_tag(conversation_id)}"
