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


def test_stemming_undoubles_a_consonant_before_ing_or_ed():
    assert {stem(w) for w in ["trip", "trips", "tripping", "tripped"]} == {"trip"}
    assert stem("descalling") == "descall" and stem("missed") == "miss" and stem("added") == "add"


def test_a_swapped_pair_of_letters_is_one_edit():
    index = Index.build([Document(1, "Warranty repair"), Document(2, "Repeat orders")])
    assert set(index.expand("repiar")) == {"repair"}
    assert index.expand("rpeiar") == {}  # two edits in a word of six letters is too far


# A shop's knowledge base with its defect library (symptom, cause, solution, affected products).
LIBRARY = [
    Document(
        1,
        "Warranty terms",
        "Machines have two years of warranty, kettles and grinders one year. The warranty covers faults.",
        ("warranty", "guarantee"),
    ),
    Document(
        2,
        "Warranty repair",
        "Check the serial number, create a repair ticket and book the collection. A repair under warranty "
        "is free and takes about 10 working days; the kettle or machine comes back by courier.",
        ("warranty", "repair"),
    ),
    Document(
        3,
        "Kettle temperature settings",
        "Switch the kettle on and choose 70, 80, 90 or 100 degrees; the light turns green when it is ready.",
        ("kettle", "KTL-5"),
    ),
    Document(
        4,
        "Descaling the kettle",
        "Fill the kettle with water and descaler, switch it on and let it stand for an hour. Rinse twice.",
        ("kettle", "descale"),
    ),
    Document(
        5,
        "Kettle: earth leakage after descaling",
        symptom="The kettle trips the circuit breaker (or blows a fuse in the fuse box) as soon as it is "
        "switched on; other appliances on the same socket work.",
        cause="Descaler or water got under the heating plate and into the connector of the base.",
        solution="Stop using the kettle at once. Replace it under warranty; do not try to dry it.",
        products=("KTL-5", "Kettle with temperature control"),
    ),
    Document(
        6,
        "Headset: sound on one side only",
        symptom="Customers hear the caller in one ear only; the other side is silent or crackles.",
        cause="A broken wire in the cable near the jack plug.",
        solution="Try another device to rule out the computer, then send a replacement under warranty.",
        products=("HS-2", "Office headset"),
    ),
    Document(
        7,
        "Delivery times",
        "Orders placed before 2 pm arrive within 2-3 working days; the box is tracked.",
        ("delivery",),
    ),
]


def test_a_misspelt_waranty_repiar_finds_the_warranty_repair_article_first():
    hits = Index.build(LIBRARY).search("waranty repiar")
    assert hits[0].id == 2
    assert {"warrant", "repair"} <= set(hits[0].terms)


def test_a_customer_describing_a_defects_symptom_gets_that_defect_first():
    hits = Index.build(LIBRARY).search("my kettle keeps tripping the fuse box when I switch it on")
    assert hits[0].id == 5
    assert len(hits) > 1 and hits[0].score > 1.5 * hits[1].score
    assert {"trip", "fus", "kettl"} <= set(hits[0].terms)


def test_a_defects_products_are_searchable():
    assert [h.id for h in Index.build(LIBRARY).search("HS-2")][:1] == [6]


def test_the_symptom_counts_as_much_as_the_title():
    docs = [Document(1, "Crackling sound"), Document(2, "Headset fault", symptom="Crackling sound")]
    first, second = Index.build(docs).search("crackling")
    assert first.score == second.score
