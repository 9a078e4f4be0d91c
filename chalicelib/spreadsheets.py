"""Spreadsheets in and out: members as rows from a CSV or XLSX file (a lead's upload, an admin's
load), and lists of stories written to CSV and XLSX (an organisation's export).

Every row read keeps the line it came from, so a problem is reported as "line N, field: message".
Every cell written is inert: in a CSV, a cell that begins with =, +, -, @, a tab or a carriage
return would be a formula to a spreadsheet (OWASP "CSV injection"), so it gets a leading apostrophe;
in an XLSX every text cell is typed as text, which a spreadsheet never calculates. openpyxl is imported only here, and only when an XLSX file is read or made.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zipfile import BadZipFile

MEMBER_COLUMNS = (
    "name",
    "display_name",
    "role",
    "organisation",
    "email",
    "service",
    "tags",
    "min_criticality",
    "frequency",
    "access",
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 20_000

Rows = list[tuple[int, dict[str, Any]]]
Problems = list[dict[str, Any]]


def header_key(name: Any) -> str:
    """A column's name as typed ("Display name") as its key (display_name)."""
    return "_".join(str(name or "").strip().lower().split())


def _rows(table: Iterable[tuple[int, Sequence[Any]]], columns: Sequence[str]) -> tuple[Rows, Problems]:
    """(line, cells) pairs, the first being the header, as rows of named fields. Empty cells are
    left out (defaults apply) and blank lines skipped."""
    rows: Rows = []
    problems: Problems = []
    table = iter(table)
    first = next(table, None)
    header = [header_key(h) for h in (first[1] if first else [])]
    for h in header:
        if h and h not in columns:
            problems.append(
                {"line": 1, "field": h, "message": f"This column is not expected; the columns are {', '.join(columns)}"}
            )
    for line, cells in table:
        row = {h: str(c).strip() for h, c in zip(header, cells) if h in columns and c is not None and str(c).strip()}
        if row:
            rows.append((line, row))
        if len(rows) > MAX_ROWS:
            problems.append({"line": line, "field": "row", "message": f"At most {MAX_ROWS:,} rows in one file"})
            break
    return rows, problems


def csv_rows(text: str, columns: Sequence[str] = MEMBER_COLUMNS) -> tuple[Rows, Problems]:
    """A CSV file with a header row naming the columns."""
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: Problems = []

    def table() -> Iterable[tuple[int, Sequence[Any]]]:
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                problems.append({"line": line, "field": "row", "message": f"This row could not be read: {e}"})
                continue
            yield line, cells

    rows, found = _rows(table(), columns)
    return rows, found + problems


def xlsx_rows(data: bytes, columns: Sequence[str] = MEMBER_COLUMNS) -> tuple[Rows, Problems]:
    """The first sheet of an XLSX workbook, its first row the header."""
    from openpyxl import load_workbook  # only here: a large import for one kind of upload

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as e:
        return [], [{"line": 1, "field": "file", "message": f"This is not an XLSX spreadsheet we can read ({e})"}]
    try:
        sheet = book.worksheets[0]
        return _rows(((i, list(r)) for i, r in enumerate(sheet.iter_rows(values_only=True), start=1)), columns)
    finally:
        book.close()


def read_rows(data: bytes, filename: str = "", content_type: str = "") -> tuple[Rows, Problems]:
    """Rows from an uploaded file, by its name or type: XLSX, else CSV (UTF-8, with or without a BOM)."""
    if filename.lower().endswith(".xlsx") or content_type == XLSX_TYPE or data[:2] == b"PK":
        return xlsx_rows(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [{"line": 1, "field": "file", "message": "Save the file as CSV UTF-8, or as an XLSX workbook"}]
    return csv_rows(text)


# ---- writing ----------------------------------------------------------------------------------


def inert(value: Any) -> Any:
    """A cell as a spreadsheet will show it, never run it (OWASP: prefix a formula with ')."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([inert(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else inert(v) for v in row])
    return out.getvalue()


def to_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A one-sheet workbook. Every text cell is stored as text (type "s"), so one that begins with
    "=" is shown as typed and never calculated: no apostrophe is needed, and none is added."""
    from openpyxl import Workbook  # only here: a large import for one kind of download
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Stories")

    def cells(values: Sequence[Any]) -> list[Any]:
        out = []
        for v in values:
            cell = WriteOnlyCell(sheet, value="" if v is None else v)
            if isinstance(v, str):
                cell.data_type = "s"
            out.append(cell)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
