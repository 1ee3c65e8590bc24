"""Name normalisation and the blocking keys that make fuzzy name lookup an index lookup.

Each name token yields itself and every variant with one character deleted (the symmetric-delete idea of
SymSpell): two tokens within one edit (insert, delete, substitute, transpose) share at least one key. Lookup
collects customers sharing keys with the query (see search.py for which keys it reads), then scores the
best few hundred with rapidfuzz.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TOKEN = 16
MIN_DELETE_TOKEN = 4
MAX_TOKENS = 6
_NOT_ASCII_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits turned into spaces."""
    if (text or "").isascii():  # the common case: same result, several times faster
        return " ".join(_NOT_ASCII_ALNUM.sub(" ", (text or "").lower()).split())
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in stripped).split())


def tokens(text: str) -> list[str]:
    """The distinct tokens of a folded name, at most MAX_TOKENS of them, each cut to MAX_TOKEN characters."""
    seen: list[str] = []
    for token in fold(text).split():
        token = token[:MAX_TOKEN]
        if len(token) >= 2 and token not in seen:
            seen.append(token)
    return seen[:MAX_TOKENS]


def token_keys(token: str) -> set[str]:
    """A token and, when it is long enough, its one-deletion variants."""
    keys = {token}
    if len(token) >= MIN_DELETE_TOKEN:
        keys.update(token[:i] + token[i + 1 :] for i in range(len(token)))
    return keys


def query_keys(token: str) -> set[str]:
    """The keys to look a typed token up by: its own keys and, for a token too short to have deletion keys,
    every token one substitution, transposition or deletion away, since those share no key with it."""
    keys = token_keys(token)
    if len(token) < MIN_DELETE_TOKEN:
        letters = "abcdefghijklmnopqrstuvwxyz"
        keys.update(token[:i] + c + token[i + 1 :] for i in range(len(token)) for c in letters)
        keys.update(token[:i] + token[i + 1] + token[i] + token[i + 2 :] for i in range(len(token) - 1))
        keys.update(token[:i] + token[i + 1 :] for i in range(len(token)) if len(token) > 2)
    return keys


def is_name(text: str) -> bool:
    """True when the text has a letter in it: a phone number or an order number standing in for a name (a
    customer known only by their number) is no name to match on."""
    return any(character.isalpha() for character in text)


def search_keys(text: str) -> set[str]:
    """Every blocking key of a name (none for text without a letter: see is_name)."""
    if not is_name(text):
        return set()
    keys: set[str] = set()
    for token in tokens(text):
        keys |= token_keys(token)
    return keys
