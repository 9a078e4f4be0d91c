"""Writes chalicelib/core/first_names.txt, the first-name gazetteer of core/identifying.py.

The names are the first-name lists that Faker (MIT licence) ships for the English-speaking locales
people in the UK come from: en_GB (from the Office for National Statistics' baby-name tables, Open
Government Licence v3.0), en_IE, en_IN, en_PK, en_NG, en_KE, en_NZ, en (US census names) and pl_PL.
Faker itself is not a runtime dependency: it is 25 MB installed and takes 100-170 ms to import, too
much for the Lambda package and its cold start, so the list is made once and committed.

    pip install faker==40.40.0 && python -m tools.first_names
"""

from __future__ import annotations

import importlib
import unicodedata
from pathlib import Path

import faker  # type: ignore[import-not-found]

LOCALES = ("en_GB", "en_IE", "en_IN", "en_PK", "en_NG", "en_KE", "en_NZ", "en", "pl_PL")
OUT = Path(__file__).resolve().parents[1] / "chalicelib" / "core" / "first_names.txt"


def names() -> list[str]:
    found: set[str] = set()
    for locale in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in ("first_names", "first_names_female", "first_names_male"):
            for name in getattr(provider, attr, ()) or ():
                name = unicodedata.normalize("NFC", str(name).strip())
                if name.isalpha() and len(name) > 1:
                    found.add(name.lower())
    return sorted(found)


def main() -> None:
    listed = names()
    header = (
        f"# First names for core/identifying.py, one a line, lower case: {len(listed)} names from Faker "
        f"{faker.VERSION} (MIT), locales {', '.join(LOCALES)}; en_GB's from the ONS baby-name tables (OGL v3.0). "
        "Made by tools/first_names.py.\n"
    )
    OUT.write_text(header + "\n".join(listed) + "\n", encoding="utf-8")
    print(f"wrote {len(listed)} names to {OUT}")


if __name__ == "__main__":
    main()
