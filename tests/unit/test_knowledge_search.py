"""Knowledge search on its own: tokenising, BM25 ranking with a weighted title, typos, excerpts."""

from contact_center.knowledge.search import Document, Index, excerpt, stem, tokenize

SHOP = [
    Document(
        1,
        "Descaling your espresso machine",
        "Limescale builds up in every machine. Run the descaling programme every two months; "
        "error E4 on the display means the machine needs descaling now.",
        ("descale", "E4", "maintenance"),
    ),
    Document(
        2, "Warranty terms", "Every machine has a two-year warranty; the Pro has three years.", ("warranty",)
    ),
    Document(3, "Delivery times", "Orders leave the warehouse within one day and arrive in 2-3 days.", ()),
    Document(
        4, "Error codes on the display", "E1 means no water. E2 means the grinder is blocked.", ("error",)
    ),
    Document(5, "Returns and refunds", "Return an unused machine within 30 days for a full refund.", ()),
]


def test_tokens_are_lower_case_without_punctuation_or_stop_words():
    assert tokenize("My machine NEEDS descaling, error E4!") == ["machin", "need", "descal", "error", "e4"]


def test_stemming_joins_forms_of_a_word():
    assert {stem(w) for w in ["descale", "descaling", "descaled", "descales"]} == {"descal"}
    assert stem("warranties") == stem("warranty")
    assert stem("address") == "address"


def test_descaling_article_wins_for_a_customer_who_needs_descaling_with_error_e4():
    hits = Index.build(SHOP).search("my machine needs descaling, error E4")
    assert hits[0].id == 1
    assert hits[0].score > 2 * hits[1].score
    assert {"descal", "e4"} <= set(hits[0].terms)


def test_a_word_in_the_title_counts_more_than_in_the_body():
    docs = [Document(1, "Invoices", "How to download them."), Document(2, "Account", "Find invoices here.")]
    assert [h.id for h in Index.build(docs).search("invoice")] == [1, 2]


def test_articles_sharing_no_word_score_nothing_and_are_left_out():
    hits = Index.build(SHOP).search("refund")
    assert [h.id for h in hits] == [5]
    assert Index.build(SHOP).search("zebra crossing") == []
    assert Index.build(SHOP).search("the and of") == []
    assert Index.build([]).search("descaling") == []


def test_a_misspelt_word_still_finds_its_article():
    hits = Index.build(SHOP).search("descalling warrenty")
    assert {h.id for h in hits} == {1, 2}


def test_short_words_are_not_matched_fuzzily():
    assert Index.build(SHOP).search("E9") == []


def test_a_repeated_word_counts_once():
    index = Index.build(SHOP)
    assert index.search("warranty") == index.search("warranty warranty warranty")


def test_limit_and_ties_are_stable():
    hits = Index.build(SHOP).search("machine", limit=2)
    assert len(hits) == 2
    assert hits == Index.build(SHOP).search("machine", limit=2)


def test_excerpt_starts_near_the_first_matching_word():
    text = "Intro words. " * 30 + "Error E4 means the machine needs descaling now. " + "More text. " * 30
    cut = excerpt(text, ["e4"], width=120)
    assert "Error E4" in cut and cut.startswith("…") and cut.endswith("…")
    assert len(cut) <= 122


def test_short_text_is_its_own_excerpt():
    assert excerpt("  Short   text. ", ["x"]) == "Short text."
