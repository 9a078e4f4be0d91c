"""QR codes of invitations' short links (issue 19), as inline SVG for the printable card and poster.

segno (pure Python, no network, no image library): error correction level Q (a quarter of the code
may be scuffed or folded, as printed cards are) and the standard quiet zone of four modules. The SVG
names no other host and no namespace URL (it is inline in HTML), so a printed page needs nothing else.
"""

from __future__ import annotations

import io

from markupsafe import Markup

QUIET_ZONE = 4
ERROR_LEVEL = "q"


def qr_code(url: str):  # -> segno.QRCode (segno imported here only: cards are rare)
    import segno

    return segno.make(url, error=ERROR_LEVEL, micro=False, boost_error=False)


def qr_svg(url: str) -> Markup:
    """The QR code of `url` as an <svg> element that scales to its box, labelled for screen readers."""
    out = io.BytesIO()
    qr_code(url).save(
        out, kind="svg", border=QUIET_ZONE, xmldecl=False, svgns=False, omitsize=True, svgclass="qr", lineclass=None
    )
    svg = out.getvalue().decode("ascii")
    label = str(Markup(' role="img" aria-label="{}"').format(f"QR code: {url}"))
    return Markup(svg.replace("<svg", "<svg" + label, 1))  # noqa: S704  # nosec B704 - segno's own markup of our URL, and a label escaped by format


def qr_rows(url: str) -> list[str]:
    """The code's modules, row by row ("1" dark, "0" light), without the quiet zone: what a test compares."""
    return ["".join("1" if m else "0" for m in row) for row in qr_code(url).matrix]
