"""The complaint classifier: configured keywords in any language, and for English text the sentiment."""

from __future__ import annotations

import pytest

from contact_center import classify
from contact_center.classify import MAX_CHARS, ComplaintClassifier, ComplaintVerdict
from contact_center.settings import load_settings

ANGRY = "This is absolutely awful, you people have ruined my week and I am so angry"


@pytest.fixture
def classifier(tmp_path) -> ComplaintClassifier:
    """The classifier of the default settings."""
    return ComplaintClassifier.from_settings(load_settings(data_dir=tmp_path))


def test_a_keyword_makes_a_complaint_and_is_named_in_the_reason(classifier):
    verdict = classifier.classify("This is UNACCEPTABLE, I was charged twice")
    assert verdict == ComplaintVerdict(True, ("unacceptable",), None, "keywords: unacceptable")


def test_phrases_match_across_spaces_and_line_breaks(classifier):
    verdict = classifier.classify("I want a Refund   now.\nTerrible\nservice from start to end")
    assert verdict.complaint and set(verdict.keywords) == {"refund now", "terrible service"}


def test_keywords_match_whole_words_only():
    classifier = ComplaintClassifier(["worst", "complaint"], sentiment_threshold=-1.0)
    assert not classifier.classify("Please add a complaintform to the worstershire page").complaint
    assert classifier.classify("I have a complaint.").keywords == ("complaint",)


def test_a_starred_keyword_matches_every_word_beginning_so(classifier):
    for text in ("I am complaining again", "Where do complaints go?", "I complained last week"):
        assert classifier.classify(text).keywords == ("complain*",), text


def test_non_english_keywords_match_whatever_the_case_and_accents(classifier):
    assert classifier.classify("Quiero poner una RECLAMACIÓN", "es").keywords == ("reclamación",)
    assert classifier.classify("quiero poner una reclamacion", "es").keywords == ("reclamación",)
    decomposed = "Reclamacio\u0301n por el pedido"  # "ó" as "o" and a combining accent
    assert classifier.classify(decomposed, "es").keywords == ("reclamación",)
    assert classifier.classify("Ich habe eine Beschwerde", "de").keywords == ("beschwerde*",)


def test_a_configured_keyword_is_used_and_the_defaults_are_not(tmp_path):
    settings = load_settings(data_dir=tmp_path, complaint_keywords="broken again, escalate this")
    classifier = ComplaintClassifier.from_settings(settings)
    assert classifier.classify("The kettle is broken again!").keywords == ("broken again",)
    assert classifier.classify("Please ESCALATE this").keywords == ("escalate this",)
    assert not classifier.classify("I have a complaint about my bill").complaint


def test_strongly_negative_english_without_keywords_is_a_complaint_by_sentiment(classifier):
    verdict = classifier.classify(ANGRY)
    assert verdict.complaint and verdict.keywords == ()
    assert verdict.sentiment is not None and verdict.sentiment <= -0.6
    assert verdict.reason == f"sentiment {verdict.sentiment:.2f}"


@pytest.mark.parametrize(
    "text",
    [
        "Hi, my parcel has not arrived yet, could you check the tracking number?",
        "Thank you so much, the agent was wonderful and fixed everything",
        "I would like to change my delivery address please",
        "",
    ],
)
def test_neutral_and_positive_texts_are_not_complaints(classifier, text):
    verdict = classifier.classify(text)
    assert not verdict.complaint and verdict.reason == ""


def test_the_threshold_from_the_settings_is_respected(tmp_path):
    text = "Your delivery was late and the box was damaged, very disappointing"  # compound about -0.75
    lenient = ComplaintClassifier.from_settings(
        load_settings(data_dir=tmp_path, complaint_sentiment_threshold=-0.9)
    )
    strict = ComplaintClassifier.from_settings(
        load_settings(data_dir=tmp_path, complaint_sentiment_threshold=-0.5)
    )
    assert lenient.sentiment_threshold == -0.9 and not lenient.classify(text).complaint
    assert strict.classify(text).complaint


def test_non_english_text_is_not_judged_by_sentiment(classifier):
    spanish = "Mi pedido es horrible y terrible, estoy muy decepcionado"  # VADER alone: strongly negative
    for verdict in (classifier.classify(spanish, "es"), classifier.classify(spanish)):  # given, or detected
        assert verdict == ComplaintVerdict(False, (), None, "not English: sentiment not judged")
    assert classifier.classify(ANGRY, "en-GB").complaint
    assert not classifier.classify(ANGRY, "fr").complaint


def test_only_the_first_characters_are_read(classifier):
    late = "Hello, a question about my order. " * (MAX_CHARS // 30) + "This is unacceptable"
    assert len(late) > MAX_CHARS and not classifier.classify(late).complaint


def test_the_sentiment_analyser_is_built_once(classifier):
    classifier.classify(ANGRY)
    classifier.classify("Thanks a lot, great help")
    assert classify._analyzer.cache_info().currsize == 1 and classify._analyzer.cache_info().misses <= 1
