"""The message catalogues (issue 19; docs/translations.md): `python -m tools.translations` extracts the text
marked in chalicelib (babel.cfg), brings chalicelib/locale/cy/LC_MESSAGES/messages.po up to date with it and
compiles messages.mo beside it. Untranslated entries are listed; tests/site/test_welsh.py fails on them.

It drives Babel's API rather than `pybabel update`, which writes Babel's own gettext table for Welsh (five
forms, zero folded into "other"); the catalogue keeps CLDR's six (zero, one, two, few, many, other).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel import Locale
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.plural import to_gettext

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "chalicelib" / "locale"
POT = LOCALES / "messages.pot"
LANGUAGES = ("cy",)


def plural_forms(locale: str) -> str:
    """CLDR's plural rule for a locale as a gettext header ("nplurals=6; plural=(...);" for Welsh)."""
    return to_gettext(Locale(locale).plural_form)


def extract() -> None:
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "N_", "--no-location"]
        + ["--sort-output", "--omit-header", "-o", str(POT), str(ROOT)]
    )


def update(locale: str) -> list[str]:
    """Merge the template into the locale's .po, compile its .mo; the msgids still untranslated."""
    po = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    with POT.open("rb") as f:
        template = read_po(f)
    with po.open("rb") as f:
        catalogue = read_po(f, locale=locale)
    header = po.read_text(encoding="utf-8").split("\nmsgid", 1)[0]  # the translators' comment at the top
    nplurals, _, expr = plural_forms(locale).partition("; plural=")
    catalogue._num_plurals = int(nplurals.removeprefix("nplurals="))  # noqa: SLF001 - Babel has no setter
    catalogue._plural_expr = expr.removesuffix(";")  # noqa: SLF001
    catalogue.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalogue.obsolete.clear()
    with po.open("wb") as f:
        write_po(f, catalogue, width=120, sort_output=True, ignore_obsolete=True)
    text = po.read_text(encoding="utf-8")
    po.write_text(header + "\nmsgid" + text.split("\nmsgid", 1)[1], encoding="utf-8")
    with po.open("rb") as f, po.with_suffix(".mo").open("wb") as out:
        write_mo(out, read_po(f, locale=locale))
    return [str(m.id) for m in catalogue if m.id and not (all(m.string) if m.pluralizable else m.string)]


def main() -> int:
    extract()
    missing = {locale: update(locale) for locale in LANGUAGES}
    for locale, ids in missing.items():
        print(f"{locale}: {len(ids)} untranslated" + "".join(f"\n  {i}" for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
