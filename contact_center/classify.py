"""Classifying an inbound message: is it a complaint? Configured keywords in any language, and for English
text the sentiment (VADER), both over the first MAX_CHARS characters only."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from contact_center.language import detect_language

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from contact_center.settings import Settings

MAX_CHARS = 5000
ENGLISH = "en"


@dataclass(frozen=True)
class ComplaintVerdict:
    """Whether a text is a complaint and why: the keywords it uses (as configured), its sentiment (VADER
    compound, -1 to 1; None when not judged: non-English text, or keywords already decided), a reason."""

    complaint: bool
    keywords: tuple[str, ...] = ()
    sentiment: float | None = None
    reason: str = ""


class ComplaintClassifier:
    """Keywords (whole words or phrases; `word*` for any word starting so; case and accents ignored) and a
    sentiment threshold for English text."""

    def __init__(
        self,
        keywords: Iterable[str] = (),
        sentiment_threshold: float = -0.6,
        language_candidates: Sequence[str] = (),
    ) -> None:
        self.keywords = tuple(dict.fromkeys(k.strip() for k in keywords if k.strip(" *")))
        self.sentiment_threshold = sentiment_threshold
        self.language_candidates = tuple(language_candidates)
        self._pattern = _keyword_pattern(self.keywords)

    @classmethod
    def from_settings(cls, settings: Settings) -> ComplaintClassifier:
        """The classifier CC_COMPLAINT_KEYWORDS and CC_COMPLAINT_SENTIMENT_THRESHOLD describe."""
        return cls(
            settings.complaint_keyword_list,
            settings.complaint_sentiment_threshold,
            settings.language_candidate_list,
        )

    def classify(self, text: str, language: str | None = None) -> ComplaintVerdict:
        """The verdict on `text`, written in `language` (ISO 639-1) if known; else English is guessed."""
        text = (text or "")[:MAX_CHARS]
        matched = self._matches(text)
        if matched:
            return ComplaintVerdict(True, matched, None, "keywords: " + ", ".join(matched))
        if not self._english(text, language):
            return ComplaintVerdict(False, (), None, "not English: sentiment not judged")
        sentiment = round(float(_analyzer().polarity_scores(text)["compound"]), 4)
        if sentiment <= self.sentiment_threshold:
            return ComplaintVerdict(True, (), sentiment, f"sentiment {sentiment:.2f}")
        return ComplaintVerdict(False, (), sentiment, "")

    def _matches(self, text: str) -> tuple[str, ...]:
        if self._pattern is None:
            return ()
        found = {int(m.lastgroup[1:]) for m in self._pattern.finditer(_fold(text)) if m.lastgroup}
        return tuple(self.keywords[i] for i in sorted(found))

    def _english(self, text: str, language: str | None) -> bool:
        """True when the text is English, or its language is unknown (given none and detection unsure)."""
        if language is None:
            language = detect_language(text, self.language_candidates)
        return language is None or re.split(r"[-_]", language.strip().lower())[0] == ENGLISH


def _fold(text: str) -> str:
    """Caseless and without accents, so "Reclamacion" meets "reclamación"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """One alternation, group k<i> for keyword i, longest first so a phrase wins over a word inside it."""
    alternatives = []
    for index in sorted(range(len(keywords)), key=lambda i: -len(keywords[i])):
        keyword = _fold(keywords[index])
        prefix = keyword.endswith("*")
        words = keyword.rstrip("*").split()
        body = r"\s+".join(re.escape(word) for word in words) + (r"\w*" if prefix else "")
        alternatives.append(rf"(?P<k{index}>(?<!\w){body}(?!\w))")
    return re.compile("|".join(alternatives)) if alternatives else None


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    """VADER's analyzer, built once (it reads its lexicon from a file)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()
