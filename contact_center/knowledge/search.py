"""Relevance ranking of knowledge articles for a text (what a customer wrote, or an agent's query).

BM25F (Okapi BM25 over several fields): a word in the title or in a defect's symptom counts three times,
in a tag or an affected product's name twice, in the body, a defect's cause or solution once, each field's
count dampened by that field's own length (so a long body does not dilute a title match), and the sum
saturates as in BM25. The symptom weighs as much as the title because customers describe what they see
("it trips the fuse box"), not what an article is called. Words are lower-cased, stripped of punctuation,
reduced by a light suffix stemmer (descale, descaling, descaled -> descal; tripping, trips -> trip) and
common words are dropped. A query word that occurs in no article is matched to indexed words at most one
edit away (two for words of 8 letters or more; swapping two neighbouring letters is one edit), as in
"descalling" or "repiar", counted in proportion to the similarity. Pure: no I/O, so it is tested on its own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

TITLE_WEIGHT = 3.0
SYMPTOM_WEIGHT = 3.0
TAG_WEIGHT = 2.0
PRODUCT_WEIGHT = 2.0
BODY_WEIGHT = 1.0
K1 = 1.2
B = 0.75
FUZZY_MIN_LENGTH = 5  # shorter words have too many near neighbours ("mail" ~ "main")
FUZZY_LONG_WORD = 8  # from this length a word may be two edits away
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my myself no nor
    not now of off on once only or other our ours out over own same she should so some such than that the
    their them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours hello hi dear thanks thank please
    regards hey ok okay get got also still""".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("ies", "ing", "ed", "es", "s", "e", "y")
_KEPT_DOUBLES = frozenset("aeioulsz")  # "descalling" keeps its ll, "buzzing" its zz, "missed" its ss


def stem(word: str) -> str:
    """A light English suffix stemmer: plural, -ing, -ed and a final -e or -y go (never below 3 letters);
    a consonant doubled before -ing or -ed is single again (tripping, tripped -> trip)."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ss"):
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            root = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(root) >= 4 and root[-1] == root[-2] not in _KEPT_DOUBLES:
                root = root[:-1]
            return root
    return word


def tokenize(text: str) -> list[str]:
    """The searchable words of a text: lower-cased, without punctuation and stop words, stemmed."""
    return [stem(w) for w in _WORD.findall(text.casefold()) if w not in STOP_WORDS]


@dataclass(frozen=True)
class Document:
    """An article as search sees it."""

    id: int
    title: str
    body: str = ""
    tags: Sequence[str] = ()
    symptom: str = ""
    cause: str = ""
    solution: str = ""
    products: Sequence[str] = ()

    def fields(self) -> dict[str, str]:
        """The text of each indexed field."""
        return {
            "title": self.title,
            "tags": " ".join(self.tags),
            "body": self.body,
            "symptom": self.symptom,
            "cause": self.cause,
            "solution": self.solution,
            "products": " ".join(self.products),
        }


@dataclass(frozen=True)
class Hit:
    """A scored document and the (stemmed) words it matched, best match first in `terms`."""

    id: int
    score: float
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """How much a word in a field counts, and how strongly the field's length dampens that (BM25F's b)."""

    weight: float
    b: float


FIELDS = {
    "title": Field(TITLE_WEIGHT, 0.5),
    "tags": Field(TAG_WEIGHT, 0.0),
    "body": Field(BODY_WEIGHT, B),
    "symptom": Field(SYMPTOM_WEIGHT, 0.5),
    "cause": Field(BODY_WEIGHT, B),
    "solution": Field(BODY_WEIGHT, B),
    "products": Field(PRODUCT_WEIGHT, 0.0),
}


@dataclass
class Index:
    """BM25F statistics of a set of documents: per field, each document's word counts and length."""

    documents: list[Document]
    frequencies: list[dict[str, Counter[str]]] = field(default_factory=list)
    lengths: list[dict[str, int]] = field(default_factory=list)
    average_length: dict[str, float] = field(default_factory=dict)
    document_frequency: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, documents: Iterable[Document]) -> Index:
        """Index these documents."""
        index = cls(list(documents))
        for doc in index.documents:
            fields = {name: Counter(tokenize(text)) for name, text in doc.fields().items()}
            index.frequencies.append(fields)
            index.lengths.append({name: sum(counts.values()) for name, counts in fields.items()})
            index.document_frequency.update(set().union(*fields.values()))
        for name in FIELDS:
            # Averaged over the documents that have the field: most articles have no symptom, and counting
            # them would make every symptom look long.
            filled = [lengths[name] for lengths in index.lengths if lengths[name]]
            index.average_length[name] = sum(filled) / len(filled) if filled else 1.0
        return index

    def idf(self, term: str) -> float:
        """Inverse document frequency (the always-positive variant, so common words still count a little)."""
        n, df = len(self.documents), self.document_frequency.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def expand(self, term: str) -> dict[str, float]:
        """The indexed words a query word stands for, each with a weight: itself, else words one edit away
        (two for long words), weighted by their similarity."""
        if term in self.document_frequency:
            return {term: 1.0}
        if len(term) < FUZZY_MIN_LENGTH or term.isdigit():
            return {}
        edits = 2 if len(term) >= FUZZY_LONG_WORD else 1
        matches = process.extract(
            term, list(self.document_frequency), scorer=OSA.distance, score_cutoff=edits, limit=3
        )
        return {word: 1 - distance / max(len(term), len(word)) for word, distance, _ in matches}

    def term_frequency(self, position: int, word: str) -> float:
        """BM25F's pseudo-frequency: each field's count, weighted and normalised by that field's length."""
        total = 0.0
        for name, spec in FIELDS.items():
            count = self.frequencies[position][name].get(word, 0)
            if count:
                relative = self.lengths[position][name] / self.average_length[name]
                total += spec.weight * count / (1 - spec.b + spec.b * relative)
        return total

    def search(self, text: str, limit: int = 5) -> list[Hit]:
        """The best documents for a text, best first; documents sharing no word with it are left out."""
        query: dict[str, float] = {}
        for term in dict.fromkeys(tokenize(text)):  # each word once: repeating a word adds nothing
            for word, weight in self.expand(term).items():
                query[word] = max(query.get(word, 0.0), weight)
        hits = []
        for position, doc in enumerate(self.documents):
            contributions = {}
            for word, weight in query.items():
                tf = self.term_frequency(position, word)
                if tf:
                    contributions[word] = weight * self.idf(word) * tf * (K1 + 1) / (tf + K1)
            score = sum(contributions.values())
            if score > 0:
                terms = tuple(sorted(contributions, key=lambda w: -contributions[w]))
                hits.append(Hit(doc.id, round(score, 4), terms))
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:limit]


def excerpt(text: str, terms: Sequence[str], width: int = 200) -> str:
    """About `width` characters of plain text around the first word matching one of the stemmed terms."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    start = 0
    wanted = set(terms)
    for match in _WORD.finditer(text):
        if stem(match.group().casefold()) in wanted:
            start = max(0, match.start() - width // 4)
            break
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < match.start() else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")
