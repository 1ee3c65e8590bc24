"""Articles' Markdown becomes HTML that is safe to show, whatever an author typed."""

from html.parser import HTMLParser

import pytest

from contact_center.knowledge.markdown import sections_to_html, to_html, to_text

SAFE_TAGS = {"p", "a", "strong", "em", "code", "pre", "h1", "ul", "ol", "li", "table", "tr", "td", "br"}


class Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


ATTACKS = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "![x](javascript:alert(1))",
    '[x](https://e.com "t" onmouseover=alert(1))',
    "<style>body{display:none}</style>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
]


@pytest.mark.parametrize("source", ATTACKS)
def test_nothing_executable_survives(source):
    html = to_html(source)
    for tag, attributes in Elements(html).found:
        assert tag in SAFE_TAGS, (source, html)
        assert set(attributes) <= {"href", "title", "rel"}, (source, html)
        href = (attributes.get("href") or "").strip().lower()
        assert href.startswith(("https:", "http:", "mailto:", "tel:")) or ":" not in href, (source, html)
        if tag == "a":
            assert attributes["rel"] == "noopener noreferrer"


def test_raw_html_is_shown_as_text():
    assert to_html("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def test_ordinary_formatting_and_links_survive_with_safe_rel():
    html = to_html("# Title\n\n**bold** *it* `code`\n\n- one\n- two\n\n[shop](https://shop.example/x)")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<code>code</code>" in html and "<li>one</li>" in html
    assert '<a href="https://shop.example/x" rel="noopener noreferrer">shop</a>' in html


def test_tables_render():
    assert "<td>2</td>" in to_html("| a | b |\n|---|---|\n| 1 | 2 |")


def test_plain_text_drops_markup_keeps_words():
    assert to_text("# Descaling\n\nRun **the programme** [now](https://x.example).") == (
        "Descaling Run the programme now."
    )


def test_a_defects_sections_are_headed_rendered_and_sanitised_and_empty_ones_left_out():
    html = sections_to_html(
        [
            ("Symptom", "Trips the **breaker** <script>alert(1)</script>"),
            ("Cause", "  "),
            ("Solution", "[Replace it](javascript:alert(1)) under [warranty](https://shop.example/w)"),
        ]
    )
    assert html.startswith("<h2>Symptom</h2>\n<p>Trips the <strong>breaker</strong> &lt;script&gt;")
    assert "<h2>Cause</h2>" not in html and "<h2>Solution</h2>" in html
    assert 'href="javascript' not in html
    assert '<a href="https://shop.example/w" rel="noopener noreferrer">warranty</a>' in html
    for tag, _ in Elements(html).found:
        assert tag in SAFE_TAGS | {"h2"}


def test_section_headings_are_escaped():
    assert sections_to_html([("<b>", "x")]) == "<h2>&lt;b&gt;</h2>\n<p>x</p>\n"
