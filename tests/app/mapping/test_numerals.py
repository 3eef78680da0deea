"""Arabic and Roman numerals are compared as numbers: 3 == III, never 3 -> X."""

from __future__ import annotations

import pytest

from app.mapping._names import normalise, roman_to_number
from app.mapping._suggest import CONFIDENT, Matcher

LOBULES = ["Vermis III", "Vermis IV", "Vermis X", "Lobule VIIb", "Crus I", "Crus II"]


@pytest.mark.parametrize(("name", "category"), [
    ("Vermis_3", "Vermis III"), ("vermis_10", "Vermis X"), ("Vermis 4", "Vermis IV"),
    ("lobule_7b", "Lobule VIIb"), ("Crus_1", "Crus I"), ("crus-2", "Crus II"),
])
def test_arabic_numeral_matches_the_roman_category(name: str, category: str) -> None:
    best = Matcher(LOBULES).match(name)
    assert best is not None and best.category == category and best.score >= CONFIDENT


@pytest.mark.parametrize("name", ["Vermis_3", "Vermis_5", "Vermis_1"])
def test_a_number_never_matches_another_number(name: str) -> None:
    assert Matcher(["Vermis X"]).ranked(name) == []


def test_vertebra_numbers_do_not_cross() -> None:
    assert Matcher(["Vertebra L4"]).ranked("vertebra_L3") == []


@pytest.mark.parametrize(("word", "number"), [
    ("iii", "3"), ("x", "10"), ("xiv", "14"), ("viib", "7b"), ("ix", "9")])
def test_roman_to_number(word: str, number: str) -> None:
    assert roman_to_number(word) == number


@pytest.mark.parametrize("word", ["mix", "dim", "via", "liver", "left", "ivc", ""])
def test_words_are_not_numerals(word: str) -> None:
    assert roman_to_number(word) == word


def test_abbreviations_and_sides_survive() -> None:
    assert normalise("IVC").tokens == ("inferior", "vein", "cava")
    assert normalise("Kidney_L").side == "left"
