"""Articles are written in Markdown and shown as HTML: rendered by markdown-it-py, then sanitised by nh3
so only ordinary formatting and safe links reach an agent's browser, whoever wrote the article."""

from __future__ import annotations

import html
from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "del", "s",
        "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

# Raw HTML in the source is shown as text ("html": False); links with unsafe schemes are left unlinked.
_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def to_html(markdown: str) -> str:
    """Safe HTML for a Markdown text: no scripts, styles, event handlers, images or javascript: links;
    every link gets rel="noopener noreferrer"."""
    return nh3.clean(
        _PARSER.render(markdown),
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def to_text(markdown: str) -> str:
    """The words of a Markdown text without its markup (for excerpts)."""
    text = nh3.clean(_PARSER.render(markdown), tags=set(), strip_comments=True)
    return " ".join(html.unescape(text).split())


def sections_to_html(sections: Sequence[tuple[str, str]]) -> str:
    """Safe HTML for headed Markdown sections (a defect's Symptom, Cause, Solution): each non-empty one as
    an escaped <h2> heading followed by its text rendered and sanitised as `to_html` does."""
    return "".join(
        f"<h2>{html.escape(heading)}</h2>\n{to_html(text)}" for heading, text in sections if text.strip()
    )
