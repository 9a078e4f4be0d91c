"""An invitation's card (A6) and poster (A4) as PDF (issue 19), for a ward to print as they are.

ReportLab draws them: a well-kept library whose wheel is pure Python (Pillow comes with it, imported
by ReportLab itself though nothing here draws an image). The QR code is segno's matrix (site/qr.py:
level Q, four modules of quiet zone) drawn as filled rectangles, one per run of dark modules in a row,
so the code stays vector at any size and no raster is made. The text is set in DejaVu Sans, shipped
beside this module (fonts/, from Debian's fonts-dejavu-core 2.37, its licence with it): the PDF core
fonts have no ŵ or ŷ, and a Lambda has no system fonts. ReportLab embeds only the glyphs used, with a
ToUnicode map, so the text can be searched and copied (and read back by the tests).

Nothing is fetched and no other host is named: the PDF's producer is set to ours (ReportLab's own
names its web site), and `invariant` leaves out the creation time, so the same invitation gives the
same bytes. The poster is the card drawn twice the size: A4 is A6 doubled, to a millimetre.

Welsh: the card is bilingual, Welsh first (the Welsh Language Standards' order), when the member asks
for Welsh or the service has a Welsh name; English only when the member asks for English.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ..core import i18n
from .qr import QUIET_ZONE, qr_code

FONTS = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "FFSans", "FFSans-Bold"
KINDS = {"card": (A6, 1.0), "poster": (A4, 2.0)}  # page size, and the card's drawing scaled to it
MM = 72 / 25.4
MARGIN = 8 * MM
INK = (0.05, 0.05, 0.1)
QR_SIDE = 58 * MM  # on the card; the poster's is twice (116 mm): both scan from well over a metre
URL_LARGEST = 22  # points on the card: the short link in the largest type that fits the width


def _fonts() -> None:
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "DejaVuSans-Bold.ttf")))


def languages(service_name_cy: str, asked: str | None) -> tuple[str, ...]:
    """The card's languages, in print order: Welsh and English when asked for Welsh or when the service
    has a Welsh name (unless English alone is asked for); otherwise English."""
    if asked == "en":
        return ("en",)
    if asked == "cy" or service_name_cy:
        return ("cy", "en")
    return ("en",)


def _texts(locale: str) -> dict[str, str]:
    with i18n.using(locale):
        return {
            "title": i18n.gettext("How was your care? Tell us your story"),
            "how": i18n.gettext("Scan the code with your phone's camera, or type the address."),
            "anon": i18n.gettext(
                "You do not have to give your name: anything that could identify you is removed before "
                "your story is published."
            ),
        }


def _qr(canvas: Canvas, url: str, x: float, y: float, side: float) -> None:
    """The code at (x, y), `side` wide with its quiet zone: one rectangle per run of dark modules, in
    module units (integers), so a test can read the matrix back from the page."""
    matrix = qr_code(url).matrix
    n = len(matrix)
    module = side / (n + 2 * QUIET_ZONE)
    canvas.saveState()
    canvas.translate(x + QUIET_ZONE * module, y + QUIET_ZONE * module)
    canvas.scale(module, module)
    path = canvas.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(start, n - 1 - r, c - start, 1)
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


Line = tuple[str, str, float, float]  # text, font, size in points, space after it


def _lines(line: Line, width: float) -> list[str]:
    return simpleSplit(line[0], line[1], line[2], width - 2 * MARGIN)


def _height(lines: list[Line], width: float) -> float:
    return sum(len(_lines(line, width)) * line[2] * 1.2 + line[3] for line in lines)


def _set(canvas: Canvas, lines: list[Line], width: float, y: float) -> float:
    """Lines set centred down the card from `y`, each wrapped to the margins; where they end."""
    for line in lines:
        for part in _lines(line, width):
            y -= line[2] * 1.2
            canvas.setFont(line[1], line[2])
            canvas.drawCentredString(width / 2, y, part)
        y -= line[3]
    return y


def pdf(invitation: dict[str, Any], kind: str, locales: tuple[str, ...]) -> bytes:
    """The card or poster of `invitation` (Invitations.printable's view) in `locales`, as PDF bytes:
    the service's name and the ask above the code, the link and the two lines below, the whole block
    centred on the page, the code as large as the text leaves room for (QR_SIDE at most)."""
    _fonts()
    page, scale = KINDS[kind]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=page, invariant=1, pageCompression=1)
    canvas.setProducer("FeedForward")
    canvas.setCreator("FeedForward")
    canvas.setTitle(f"{invitation['service_name']}: {invitation['url'].split('://', 1)[-1]}")
    canvas.setFillColorRGB(*INK)
    width, height = A6
    canvas.translate((page[0] - width * scale) / 2, (page[1] - height * scale) / 2)
    canvas.scale(scale, scale)
    texts = {locale: _texts(locale) for locale in locales}
    both = len(locales) > 1
    names = [invitation.get("service_name_cy") or invitation["service_name"]] if both else []
    names += [invitation["service_name"]] if not names or names[0] != invitation["service_name"] else []
    above: list[Line] = [(name, BOLD, 12 if both else 14, 1) for name in names]
    above[-1] = above[-1][:3] + (6,)
    above += [(texts[locale]["title"], REGULAR, 11 if both else 13, 1) for locale in locales]
    short = invitation["url"].split("://", 1)[-1]
    url_size = min(URL_LARGEST, (width - 2 * MARGIN) / pdfmetrics.stringWidth(short, BOLD, 1))
    below: list[Line] = [(short, BOLD, url_size, 4)]
    below += [(texts[locale]["how"], REGULAR, 7.5 if both else 8.5, 1) for locale in locales]
    below[-1] = below[-1][:3] + (4,)
    below += [(texts[locale]["anon"], REGULAR, 7 if both else 8, 1) for locale in locales]
    tops, bottoms = _height(above, width), _height(below, width)
    side = min(QR_SIDE, height - 2 * MARGIN - tops - bottoms)
    y = _set(canvas, above, width, height - (height - tops - side - bottoms) / 2)
    _qr(canvas, invitation["url"], (width - side) / 2, y - side, side)
    _set(canvas, below, width, y - side)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
