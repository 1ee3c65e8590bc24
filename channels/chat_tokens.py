"""Chat visitors' tokens and website identity proofs.

A visitor token is a random visitor id with an HMAC of it under the app's signing key: a reload or a second
tab presents it and resumes the same conversation; a token that was not made here is refused. A website
whose users are logged in can prove who the visitor is by sending their user id with
HMAC-SHA256(CC_CHAT_IDENTITY_SECRET, user id) in hex; the chat then belongs to that user's customer record.
Both comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

VERSION_PREFIX = "v1"


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, f"chat-visitor|{text}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_visitor_token(key: bytes) -> tuple[str, str]:
    """A new visitor id and its token."""
    visitor = secrets.token_urlsafe(16)
    return visitor, f"{VERSION_PREFIX}.{visitor}.{_mac(key, visitor)}"


def visitor_of(key: bytes, token: object) -> str | None:
    """The visitor id a token stands for, None for anything that is not a token we made."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    version, _, rest = token.partition(".")
    visitor, _, mac = rest.partition(".")
    if version != VERSION_PREFIX or not visitor or not mac:
        return None
    return visitor if hmac.compare_digest(mac, _mac(key, visitor)) else None


def identity_proven(secret: str, user_id: object, proof: object) -> bool:
    """True when `proof` is HMAC-SHA256(secret, user_id) in hex (a website's logged-in user)."""
    if not secret or not isinstance(user_id, str) or not isinstance(proof, str) or not user_id:
        return False
    expected = hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, proof.strip().lower())
