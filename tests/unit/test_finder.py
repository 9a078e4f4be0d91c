"""The finder's language (core/finder.py, issue 20): folding, synonyms, typos, split words and ranking,
on a few services written here. No AWS: the flow test (tests/flows/test_finder.py) reads the index."""

from __future__ import annotations

import pytest

from chalicelib.core import finder

SYNONYMS = {
    "groups": [
        {"same": ["a&e", "a and e", "accident and emergency", "emergency department", "casualty"]},
        {"same": ["cardiology", "cardiac", "heart"]},
        {"same": ["children's", "childrens", "paediatric", "kids"]},
        {"same": ["gp", "doctors", "medical centre", "practice"], "also": ["surgery"]},
        {"same": ["radiology", "x-ray", "xray", "imaging"]},
    ]
}
TRUST = {"slug": "nb", "name": "Northbridge Teaching Hospitals NHS Foundation Trust", "kind": "trust", "path": ["nb"]}
HOSPITAL = {"slug": "nb-gen", "name": "Northbridge General Hospital", "kind": "hospital"}
SERVICES = [
    TRUST | {"trail": []},
    HOSPITAL | {"path": ["nb", "nb-gen"], "trail": [TRUST]},
    {"slug": "ed", "name": "Emergency Department (A&E)", "kind": "department"},
    {"slug": "ced", "name": "Children's Emergency Department", "kind": "department"},
    {"slug": "w7", "name": "Ward 7 (Cardiology)", "kind": "ward"},
    {"slug": "w12", "name": "Ward 12 (Respiratory)", "kind": "ward"},
    {"slug": "xr", "name": "Radiology (X-ray, CT and MRI)", "kind": "department"},
    {"slug": "st", "name": "St Aldhelm's Community Hospital, Kelbrook", "kind": "hospital"},
    {"slug": "gp", "name": "Castle Street Surgery", "kind": "practice"},
    {"slug": "surg", "name": "Surgery", "kind": "department"},
]
for s in SERVICES[2:]:
    s.setdefault("trail", [TRUST, HOSPITAL])
    s.setdefault("path", ["nb", "nb-gen", s["slug"]])


def entries(synonyms=SYNONYMS):
    groups = finder.Synonyms.parse(synonyms)
    out = [s | {"depth": len(s["path"])} | finder.search_fields(s, groups) for s in SERVICES]
    return out, finder.Vocabulary(finder.vocabulary(out, groups))


def find(q: str, synonyms=SYNONYMS) -> list[str]:
    """The finder over every service (the index's partitions narrow what is ranked, not the order)."""
    found, vocab = entries(synonyms)
    terms = finder.parse(q, vocab)
    ranked = finder.rank(found, terms, q)
    if not ranked and (relaxed := finder.relax(terms, vocab)):
        ranked = finder.rank(found, relaxed, q)
    return [e["slug"] for e in ranked]


def test_apostrophes_accents_and_ampersands_fold_to_the_words_people_type():
    assert finder.fold("Children’s Pædiatric Café A&E") == "childrens paediatric cafe ae"
    assert " ".join(finder.sequence("St Aldhelm's, x-ray; Ward7 & co")) == "st aldhelms x ray ward 7 and co"
    assert finder.name_words("Radiology (X-ray)") == ["radiology", "x", "ray", "xray"]


@pytest.mark.parametrize(
    ("q", "first"),
    [
        ("A&E", "ed"),
        ("a and e", "ed"),
        ("accident and emergency", "ed"),
        ("casualty", "ed"),
        ("childrens", "ced"),
        ("kids a&e", "ced"),
        ("st aldhelms", "st"),
        ("ST ALDHELM’S", "st"),
        ("xray", "xr"),
        ("x ray", "xr"),
        ("heart", "w7"),
        ("northbridge ward 12", "w12"),
        ("ward12", "w12"),
    ],
)
def test_what_people_type_finds_the_service_they_mean_first(q, first):
    assert find(q)[:1] == [first]


def test_without_the_synonyms_abbreviations_find_nothing_but_names_still_do():
    assert find("heart", synonyms=None) == []
    assert find("cardiology", synonyms=None) == ["w7"]


@pytest.mark.parametrize(
    ("q", "first"),
    [("cardiolgy", "w7"), ("resperatory", "w12"), ("st aldems", "st"), ("northbrige general hospital", "nb-gen")],
)
def test_typos_are_corrected_to_the_directorys_own_words(q, first):
    assert find(q)[:1] == [first]


def test_a_word_split_in_two_is_put_back_and_nonsense_finds_nothing():
    _, vocab = entries()
    assert [t.words for t in finder.parse("radio logy", vocab)] == [("radiology",)]
    assert find("zzzz") == [] and find("qwertyuiop") == []


def test_the_whole_name_comes_before_a_word_of_it_and_shallower_before_deeper():
    assert find("emergency department")[:2] == ["ed", "ced"]  # the whole name typed, then the longer name
    assert find("northbridge")[:2] == ["nb", "nb-gen"]  # both name it: the trust is shallower
    assert find("surgery")[:2] == ["surg", "gp"]  # its whole name, then a GP surgery


def test_an_also_word_finds_its_group_without_making_its_namesakes_members():
    assert find("castle street gp") == ["gp"]
    assert "surg" not in find("gp")  # "Surgery" the department is not a GP practice
    assert find("castle street doctors") == ["gp"]


def test_when_no_service_holds_every_word_the_commonest_is_let_go():
    assert find("ward 12 please")[:1] == ["w12"]  # "please" is no word of the directory's


def test_a_query_reads_at_most_three_partitions_the_rarest_first():
    _, vocab = entries()
    terms = finder.parse("northbridge general hospital ward 12 respiratory", vocab)
    keys = finder.keys(terms, vocab, 3)
    assert len(keys) == 3 and "northbridge" not in keys  # every service's trail holds it: it narrows least
    assert finder.keys(finder.parse("7", vocab), vocab, 3) == []  # one character reads nothing


@pytest.mark.parametrize(
    "doc",
    [
        {"groups": "a&e"},
        {"groups": [{"same": ["only one"]}]},
        {"groups": [{"same": ["a", ""]}]},
        {"groups": [{"same": ["a&e", "casualty"], "also": "surgery"}]},
        {"groups": [{"same": ["heart", "cardiac"]}, {"same": ["heart", "coronary"]}]},
    ],
)
def test_a_bad_synonyms_file_stops_the_load_saying_which_group(doc):
    with pytest.raises(ValueError, match="Synonyms"):
        finder.Synonyms.parse(doc)


def test_the_demo_synonyms_file_is_valid():
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "data" / "service_synonyms.json").read_text("utf-8"))
    assert len(finder.Synonyms.parse(doc).groups) >= 50


def test_a_long_query_is_read_for_its_first_twelve_words_only():
    _, vocab = entries()
    assert len(finder.parse("qwertyuiop " * 40, vocab)) == finder.MAX_WORDS
