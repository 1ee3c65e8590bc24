"""Detecting the language a customer wrote in (py3langid: a small model shipped in the package, offline)."""

from __future__ import annotations

import re
from functools import cache

MIN_LETTERS = 12
MIN_PROBABILITY = 0.80
_URLS = re.compile(r"https?://\S+|\S+@\S+")


@cache
def _identifier(candidates: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    known = set(identifier.labels)
    usable = [code for code in candidates if code in known]
    if usable:
        identifier.set_languages(usable)
    return identifier


def detect_language(text: str, candidates: list[str] | tuple[str, ...] = ()) -> str | None:
    """The ISO 639-1 code of the text's language, or None when the text is too short or the guess unsure."""
    cleaned = _URLS.sub(" ", text or "")
    if sum(ch.isalpha() for ch in cleaned) < MIN_LETTERS:
        return None
    language, probability = _identifier(tuple(candidates)).classify(cleaned[:5000])
    return str(language) if probability >= MIN_PROBABILITY else None
