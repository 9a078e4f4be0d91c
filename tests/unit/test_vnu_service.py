"""The HTML checker every page test relies on (tests/support/vnu.py) finds errors, names the page, and passes a
valid page: a check that always said "" would let every page test pass."""

from __future__ import annotations

from tests.support.vnu import needs_vnu, vnu_errors, vnu_files

VALID = '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>Fine</title></head><body><p>Fine</p></body></html>'
BROKEN = '<!DOCTYPE html><html lang="en-GB"><head><title>Bad</title></head><body><p><div>x</p><img src="a.png"></body></html>'


@needs_vnu
def test_the_checker_names_each_error_and_its_page_and_passes_a_valid_page(tmp_path):
    assert vnu_errors({"fine.html": VALID}, tmp_path) == ""
    errors = vnu_errors({"fine.html": VALID, "broken.html": BROKEN}, tmp_path)
    lines = errors.splitlines()
    assert lines and all(line.startswith("broken.html:1.") for line in lines), errors
    assert any("“alt” attribute" in line for line in lines), errors
    # The same from files, as the site tests check what the renderer wrote.
    assert vnu_files(tmp_path / "fine.html") == ""
    assert "broken.html" in vnu_files(tmp_path / "fine.html", tmp_path / "broken.html")
