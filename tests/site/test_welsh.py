"""The Welsh site (issue 19), rendered in process from a small store held in memory:

- every public page type is built in English at its key and in Welsh under cy/, with lang="cy", a language
  switch that leads to the same page in the other language, and hreflang alternates; the Welsh pages are
  valid to vnu;
- a pseudo-locale (every catalogue entry wrapped in ⟦…⟧) leaves no visible text untranslated on any page type:
  only what people wrote (stories, names, services, tags), numbers and the brand stay outside it;
- the Welsh catalogue is complete, its .mo is its .po compiled, its plural rule is CLDR's six forms, and the
  figures say 0, 1, 2, 3, 6 and 7 in the right form; months are CLDR's Welsh month names.
"""

from __future__ import annotations

import gettext
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chalicelib.core import i18n
from chalicelib.core.jobs import RenderJob
from chalicelib.core.settings import get_settings
from chalicelib.site.render import SiteRenderer
from tests.support.vnu import JAR, needs_vnu, vnu_errors
from tests.support.welsh_site import PAGE_TYPES, STORY, USER_WORDS, Publisher, SiteStore, build

PO = i18n.LOCALE_DIR / "cy" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


@pytest.fixture(scope="module")
def site() -> dict[str, str]:
    return build()


# ---- the Welsh pages -----------------------------------------------------------------------------------


def test_every_public_page_type_has_a_welsh_page_with_lang_cy(site):
    for name, key in PAGE_TYPES.items():
        assert key in site, name
        assert f"cy/{key}" in site, name
        assert '<html lang="en-GB">' in site[key], name
        assert '<html lang="cy">' in site[f"cy/{key}"], name
    assert "Adroddwch eich stori" in site["cy/index.html"]
    assert "Tell your story" not in site["cy/index.html"]
    # The author's words keep the language they were written in, on the Welsh page.
    assert '<div lang="en-GB">' in site[f"cy/{PAGE_TYPES['story']}"]
    assert '<div lang="en-GB">' not in site[PAGE_TYPES["story"]]
    assert "<dt>Iaith y stori</dt><dd>Saesneg</dd>" in site[f"cy/{PAGE_TYPES['story']}"]  # and the page says which
    # A service's Welsh name, where the directory gives one, on the Welsh pages only.
    for page in ("service", "story", "home", "service archive", "form"):
        assert "Zedward Gymraeg" in site[f"cy/{PAGE_TYPES[page]}"] or page == "home", page
        assert "Zedymddiriedolaeth" in site[f"cy/{PAGE_TYPES[page]}"], page
        assert "Gymraeg" not in site[PAGE_TYPES[page]] and "Zedymddiriedolaeth" not in site[PAGE_TYPES[page]], page
    assert "<h1>Zedward Gymraeg</h1>" in site[f"cy/{PAGE_TYPES['service']}"]
    assert "Told in" not in site[PAGE_TYPES["story"]]


def _links(html: str, cls: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if cls in (a.get("class") or "").split() or (cls == "alternate" and a.get("hreflang") and tag == "link"):
                found.append({k: v or "" for k, v in a.items()})

    Links().feed(html)
    return found


def test_the_switch_and_the_alternates_lead_to_the_same_page_in_the_other_language(site):
    for name, key in PAGE_TYPES.items():
        if key == "404.html":
            continue  # served for any address: it has no address of its own to switch
        path = "/" + key.removesuffix("index.html")
        english, welsh = site[key], site[f"cy/{key}"]
        assert [(a["href"], a["lang"]) for a in _links(english, "language-switch")] == [(f"/cy{path}", "cy")], name
        assert [(a["href"], a["lang"]) for a in _links(welsh, "language-switch")] == [(path, "en-GB")], name
        for page in (english, welsh):
            alternates = {a["hreflang"]: a["href"] for a in _links(page, "alternate")}
            assert alternates == {"en-GB": path, "cy": f"/cy{path}"}, name
    # Links between Welsh pages stay on the Welsh site; the form records the language it was sent in.
    assert 'href="/cy/stories/' in site["cy/index.html"]
    assert 'href="/cy/tell-your-story/zz-ward/"' in site[f"cy/{PAGE_TYPES['service']}"]
    assert '<input type="hidden" name="language" value="cy">' in site["cy/tell-your-story/index.html"]
    assert '<input type="hidden" name="language" value="en">' in site["tell-your-story/index.html"]


def test_a_story_taken_down_goes_in_both_languages():
    renderer = SiteRenderer(SiteStore(), Publisher(), get_settings())  # type: ignore[arg-type]
    outs = renderer.build(RenderJob(page="story", ref="00000000000000000"))
    assert {o.key for o in outs} == {"stories/00000000000000000/index.html", "cy/stories/00000000000000000/index.html"}


@needs_vnu
def test_the_welsh_pages_are_valid_to_vnu(site, tmp_path):
    pages = {f"{re.sub(r'[^a-z]+', '-', name)}.html": site[f"cy/{key}"] for name, key in PAGE_TYPES.items()}
    assert vnu_errors(pages, tmp_path) == ""


# ---- nothing left in English ----------------------------------------------------------------------------


class Pseudo(gettext.NullTranslations):
    """Every message wrapped in ⟦…⟧, its placeholders kept."""

    def gettext(self, message):
        return f"⟦{message}⟧"

    def ngettext(self, singular, plural, n):
        return f"⟦{singular if n == 1 else plural}⟧"


class Visible(HTMLParser):
    """The text a reader sees: text nodes outside script, style and textarea (code to copy), and the
    attributes read out (alt, title, aria-label, placeholder) and the <title>."""

    SKIP = {"script", "style", "textarea"}

    def __init__(self):
        super().__init__()
        self.text: list[str] = []  # attributes, one by one
        self.body: list[str] = []  # text nodes, joined: a wrapped message may hold markup
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        for name, value in attrs:
            if tag == "link":
                break  # a feed's title: the feeds are in English
            if name in ("alt", "title", "aria-label", "placeholder", "content") and value:
                if not (tag == "meta" and dict(attrs).get("name") not in ("description",)):
                    self.text.append(value)

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.body.append(data)


def untranslated(html: str) -> list[str]:
    """Runs of letters outside ⟦…⟧ once what people wrote, the brand and the language names are left out."""
    parser = Visible()
    parser.feed(html)
    out = []
    for text in [*parser.text, " ".join(parser.body)]:
        while re.search(r"⟦[^⟦⟧]*⟧", text):  # innermost first: a message may hold another (a role, a month)
            text = re.sub(r"⟦[^⟦⟧]*⟧", " ", text)
        text = USER_WORDS.sub(" ", text)
        text = re.sub(r"\b(FeedForward|English|Cymraeg)\b", " ", text)
        out += re.findall(r"[^\W\d_]{2,}", text)
    return out


def test_the_pseudo_locale_leaves_no_visible_text_untranslated():
    pages = build(Pseudo(), locale="qps")
    for name, key in PAGE_TYPES.items():
        assert key in pages, name
        assert untranslated(pages[key]) == [], (name, untranslated(pages[key]))


def test_the_check_can_fail():
    html = "<html lang='qps'><body><p>⟦Translated⟧ Zedname</p><p>left as it was</p></body></html>"
    assert untranslated(html) == ["left", "as", "it", "was"]


# ---- the catalogue ------------------------------------------------------------------------------------


def test_every_entry_of_the_welsh_catalogue_is_translated_and_its_mo_is_its_po_compiled():
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        catalogue = read_po(f, locale="cy")
    empty = [m.id for m in catalogue if m.id and (not m.string or not all(m.string if m.pluralizable else [1]))]
    assert empty == []
    assert not [m.id for m in catalogue if m.fuzzy and m.id]
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    assert compiled.getvalue() == MO.read_bytes(), "messages.mo is stale: run `make translations`"


def test_every_marked_string_is_in_the_catalogue():
    """Extracting again finds nothing the catalogue lacks (a string marked but never translated)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f, locale="cy") if m.id}
    root = Path(__file__).resolve().parents[2]
    method_map = [("chalicelib/**.py", "python"), ("chalicelib/templates/pages/**.html", "jinja2")]
    method_map += [("chalicelib/templates/email/**.html", "jinja2"), ("chalicelib/templates/email/**.txt", "jinja2")]
    options = {pattern: {"extensions": "jinja2.ext.i18n", "trimmed": "true"} for pattern, _ in method_map[1:]}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = {m[2] if isinstance(m[2], str) else m[2][0] for m in extract_from_dir(root, method_map, options, keywords)}
    assert found - known == set()


def test_the_welsh_plural_rule_is_cldrs_six_forms():
    from babel import Locale
    from babel.messages.pofile import read_po
    from babel.plural import to_gettext

    with PO.open("rb") as f:
        header = read_po(f).plural_forms
    assert header == to_gettext(Locale("cy").plural_form)
    assert header.startswith("nplurals=6;")
    assert i18n.catalogue("cy").plural(0) == 0 and i18n.catalogue("cy").plural(7) == 5


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (0, "Does neb wedi dweud bod hyn wedi digwydd iddyn nhw hefyd eto."),
        (1, "Mae 1 person wedi dweud"),
        (2, "Mae 2 berson wedi dweud"),
        (3, "Mae 3 pherson wedi dweud"),
        (6, "Mae 6 pherson wedi dweud"),
        (7, "Mae 7 o bobl wedi dweud"),
    ],
)
def test_the_me_too_count_takes_the_welsh_form_for_its_number(n, said):
    renderer = SiteRenderer(SiteStore(), Publisher(), get_settings())  # type: ignore[arg-type]
    STORY["me_too_count"] = n
    try:
        pages = {o.key: o.body.decode("utf-8") for o in renderer.build(RenderJob(page="story", ref=STORY["id"]))}
    finally:
        STORY["me_too_count"] = 2
    count = re.search(r'<p class="me-too__count">(.*?)</p>', pages[f"cy/stories/{STORY['id']}/index.html"]).group(1)
    assert count.startswith(said), count


@pytest.mark.parametrize(
    ("n", "days", "stories"),
    [(0, "0 diwrnod", "dim straeon"), (1, "1 diwrnod", "1 stori"), (2, "2 ddiwrnod", "2 stori")]
    + [(3, "3 diwrnod", "3 stori"), (6, "6 diwrnod", "6 stori"), (7, "7 diwrnod", "7 o straeon")],
)
def test_figures_in_welsh_take_the_form_for_their_number(n, days, stories):
    from chalicelib.core.figures import duration_words

    with i18n.using("cy"):
        assert i18n.ngettext("%(num)d day", "%(num)d days", n) % {"num": n} == days
        assert i18n.ngettext("%(num)s story", "%(num)s stories", n) % {"num": n} == stories
        if n >= 2:  # a response time in days from 48 hours
            assert duration_words(n * 24) == days
    with i18n.using("en"):
        assert (
            i18n.ngettext("%(num)s story", "%(num)s stories", n) % {"num": n}
            == f"{n} {'story' if n == 1 else 'stories'}"
        )


def test_welsh_months_are_cldrs():
    from babel.dates import get_month_names

    with i18n.using("cy"):
        assert [i18n.month_name(m) for m in range(1, 13)] == [
            get_month_names("wide", locale="cy")[m] for m in range(1, 13)
        ]


# ---- the form sent back with its errors -----------------------------------------------------------------

ERRORS = [
    {"field": "title", "message": "Title must be at least 3 characters"},  # built with numbers: said by the field
    {"field": "consent", "message": "Agree to the publishing terms to send your story"},  # in the catalogue
    {"field": "submission_id", "message": "The submission id is not valid"},  # no field to fix: the general words
]


def test_the_welsh_form_comes_back_with_its_errors_in_welsh(tmp_path):
    from chalicelib.site.forms import story_form_with_errors

    html = story_form_with_errors({"language": "cy", "title": "Zz"}, ERRORS, SiteStore(), get_settings())  # type: ignore[arg-type]
    assert '<html lang="cy">' in html and '<input type="hidden" name="language" value="cy">' in html
    assert "Rhowch deitl i’ch stori sydd rhwng 3 a 120 o nodau" in html
    assert "Cytunwch i’r telerau cyhoeddi er mwyn anfon eich stori" in html
    assert "Aeth rhywbeth o’i le wrth anfon eich stori." in html
    assert "must be at least" not in html and "Agree to" not in html
    english = story_form_with_errors({"title": "Zz"}, ERRORS, SiteStore(), get_settings())  # type: ignore[arg-type]
    assert "Title must be at least 3 characters" in english and '<html lang="en-GB">' in english
    if JAR is not None:
        assert vnu_errors({"form-errors.html": html}, tmp_path) == ""


def test_the_form_with_errors_leaves_nothing_untranslated_in_the_pseudo_locale():
    from chalicelib.site.forms import directory_groups, form_context
    from chalicelib.site.pages import render_page

    with i18n.using("qps", Pseudo()):
        context = form_context({"title": "Zz"}, ERRORS, directory_groups(SiteStore()), get_settings(), script=False)  # type: ignore[arg-type]
        html = render_page("form.html", page_path="/tell-your-story/", **context)
    assert "⟦Title must be at least 3 characters⟧" in html
    assert untranslated(html) == []


def test_the_strings_marked_for_review_are_the_ones_docs_list():
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        marked = {
            m.id if isinstance(m.id, str) else m.id[0]
            for m in read_po(f)
            if m.id and any("REVIEW" in c for c in m.user_comments)
        }
    docs = (Path(__file__).resolve().parents[2] / "docs" / "translations.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `(.+?)`", docs.split("## Strings a native speaker should review")[1], re.M))
    assert marked and listed == marked


def test_the_directory_keeps_a_services_welsh_name_and_refuses_a_bad_one():
    from chalicelib.directory import flatten

    tree = [{"slug": "t", "name": "Trust", "name_cy": "Ymddiriedolaeth", "kind": "trust"}]
    tree[0]["children"] = [{"slug": "w", "name": "Ward 1", "kind": "ward"}]
    trust, ward = flatten(tree)
    assert trust["name_cy"] == "Ymddiriedolaeth" and "name_cy" not in ward
    assert ward["trail"] == [{"slug": "t", "name": "Trust", "name_cy": "Ymddiriedolaeth"}]
    with pytest.raises(ValueError, match="name_cy"):
        flatten([{"slug": "t", "name": "Trust", "name_cy": "", "kind": "trust"}])


def test_every_word_form_js_writes_comes_from_the_form_in_the_pages_language(site):
    """form.js says nothing of its own: each t("…")/tn("…") it calls is a key of the form's data-words, and the
    Welsh form gives each a Welsh value (a count a form for each of Welsh's plural categories)."""
    import json
    from html import unescape

    from chalicelib.site.forms import SCRIPT_WORDS

    source = (i18n.LOCALE_DIR.parent / "static" / "form.js").read_text(encoding="utf-8")
    source = re.sub(r'"\s*\+\s*\n\s*"', "", source)  # a long message split over lines is one string
    called = set(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', source)) | set(
        re.findall(r'\btn\("((?:[^"\\]|\\.)*)"', source)
    )
    welsh = json.loads(unescape(re.search(r"data-words='([^']*)'", site["cy/tell-your-story/index.html"]).group(1)))
    english = json.loads(unescape(re.search(r"data-words='([^']*)'", site["tell-your-story/index.html"]).group(1)))
    assert called == set(welsh) == set(english) and len(called) == len(SCRIPT_WORDS) + 3
    for key, said in welsh.items():
        if isinstance(said, dict):
            assert set(said) == {"zero", "one", "two", "few", "many", "other"} and said["two"] != english[key]["two"]
        else:
            assert said != key, key
    assert welsh["%(num)s word"]["two"] == "%(num)s air" and english["%(num)s word"]["one"] == "%(num)s word"
