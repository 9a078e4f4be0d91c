"""The languages of the site and the letters (issue 19): English and Welsh, from gettext catalogues.

The catalogues live in chalicelib/locale: `messages.po` is the source a translator edits and
`messages.mo` its compiled form, committed beside it (`make translations` extracts, updates and
compiles them with Babel; tests/site/test_welsh.py fails when the .mo is not the .po compiled). At
run time only the standard library's gettext reads the .mo, so no Lambda loads Babel or its locale
data. Which language is in use is a context variable: a render or mail job sets it around the one
page or letter (`using("cy")`), and Jinja's i18n extension reads it through CURRENT, so one Jinja
environment serves every language and threads never see each other's.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT = "en"
LOCALES = ("en", "cy")
# The value of <html lang> (and hreflang) for each; English is the site's British English.
LANG_TAGS = {"en": "en-GB", "cy": "cy"}
# Each language named in itself, as a language switch says it.
NAMES = {"en": "English", "cy": "Cymraeg"}

_current: ContextVar[tuple[str, Any]] = ContextVar("locale", default=(DEFAULT, None))


def N_(message: str) -> str:
    """Marks a constant for extraction; it is translated where it is shown (gettext(value))."""
    return message


@lru_cache(maxsize=8)
def catalogue(locale: str) -> _gettext.NullTranslations:
    """The compiled catalogue of a locale; English (the source language) is the messages themselves."""
    if locale == DEFAULT:
        return _gettext.NullTranslations()
    with open(LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo", "rb") as f:
        return _gettext.GNUTranslations(f)


def known(locale: Any) -> str:
    """A locale as given by a form or a record, or the default when it is not one we publish."""
    return str(locale) if str(locale) in LOCALES else DEFAULT


@contextmanager
def using(locale: str, translations: Any = None) -> Iterator[None]:
    """Render and write in `locale` inside the block. A test may pass its own translations (a pseudo-locale)."""
    token = _current.set((locale, translations if translations is not None else catalogue(locale)))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()[0]


def _translations() -> Any:
    locale, translations = _current.get()
    return translations if translations is not None else catalogue(locale)


def gettext(message: str) -> str:
    # "" is a catalogue's header in gettext: an empty label stays empty.
    return str(_translations().gettext(message)) if message else ""


def ngettext(singular: str, plural: str, n: int) -> str:
    return str(_translations().ngettext(singular, plural, n))


def pgettext(context: str, message: str) -> str:
    return str(_translations().pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return str(_translations().npgettext(context, singular, plural, n))


class _Current:
    """The catalogue of the language in use, as Jinja's install_gettext_translations wants one."""

    gettext = staticmethod(gettext)
    ngettext = staticmethod(ngettext)
    pgettext = staticmethod(pgettext)
    npgettext = staticmethod(npgettext)


CURRENT = _Current()


def lang_tag(locale: str | None = None) -> str:
    """<html lang> for a locale (a pseudo-locale is its own tag)."""
    locale = locale or current()
    return LANG_TAGS.get(locale, locale)


def prefix(locale: str | None = None) -> str:
    """Where a language's pages live on the site: "" for English, "/cy" for Welsh."""
    locale = locale or current()
    return "" if locale == DEFAULT else f"/{locale}"


def site_key(key: str, locale: str | None = None) -> str:
    """A page's key in the bucket for a language: "stories/x/index.html" -> "cy/stories/x/index.html"."""
    return prefix(locale).lstrip("/") + "/" + key if prefix(locale) else key


MONTHS = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)


def month_name(month: int) -> str:
    """A month's name (1-12) in the language in use."""
    return gettext(MONTHS[month - 1])
