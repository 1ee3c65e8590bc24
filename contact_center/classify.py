"""Classifying an inbound contact: is it a complaint? (The ticket issue makes this configurable.)"""

from __future__ import annotations

import re

COMPLAINT_WORDS = (
    "complaint",
    "complain",
    "unacceptable",
    "disgusted",
    "furious",
    "outraged",
    "terrible service",
    "worst",
    "refund now",
    "lawyer",
    "legal action",
    "ombudsman",
    "beschwerde",
    "reclamación",
    "queja",
)
_PATTERN = re.compile("|".join(re.escape(w) for w in COMPLAINT_WORDS), re.IGNORECASE)


def looks_like_complaint(text: str) -> bool:
    """True when the text uses words of complaint."""
    return bool(_PATTERN.search(text or ""))
