"""What the board sees (issue 15): a lead's report, its export and the monthly board report, through
the API, the scheduled function, the mail worker and the mailbox, with the clock held.

The stories are generated (tests/support/reports.py): two months of Riverside's, with a few of
Hillside's, with varied services, tags, criticality, responses, changes and overdue marks. Every
figure the report gives is checked against a brute-force recount of the same stories.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core import clock
from chalicelib.core.settings import get_settings
from chalicelib.reports import EXPORT_COLUMNS
from tests.support import mailbox, moto_state
from tests.support.reports import EVIL_TITLE, Generated, generate, month_bounds, recount, within
from tests.support.vnu import needs_vnu, vnu_errors

# Monday 2 November 2026: the first working day of November (the 1st is a Sunday).
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEAD = "lena.lead@nhs.example"
OTHER_LEAD = "harry.lead@hillside.nhs.example"
JSON_H = {"Accept": "application/json"}
HTML_H = {"Accept": "text/html"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # as a browser follows a download link
FORM_H = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
FIGURES = (
    "stories",
    "responded",
    "response_rate",
    "median_hours",
    "p90_hours",
    "overdue",
    "planned",
    "made",
    "confirmed",
)


class Clock:
    def __init__(self, monkeypatch):
        self.now = NOW
        monkeypatch.setattr(clock, "now", lambda: self.now)


@pytest.fixture
def held(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def leads(aws, directory, held):
    """A lead for each trust. Made once per worker (moto_state.kept), as are the stories below."""

    def build():
        membership = wiring.membership()
        membership.name_lead(
            {"slug": "riverside-trust", "name": "Riverside NHS Foundation Trust"}, LEAD, by="test", name="Lena Lead"
        )
        membership.name_lead(
            {"slug": "hillside-trust", "name": "Hillside Community Health"}, OTHER_LEAD, by="test", name="Harry Lead"
        )
        store = wiring.store()
        return {"riverside": store.find_subscriber(LEAD), "hillside": store.find_subscriber(OTHER_LEAD)}

    return moto_state.kept("reports-leads", build)


@pytest.fixture
def stories(leads) -> Generated:
    return moto_state.kept("reports-stories", lambda: generate(datetime(2026, 10, 1, tzinfo=UTC)))


def link(lead: dict, organisation: str = "riverside-trust") -> str:
    return wiring.links().issue(
        "organisation",
        "",
        lead["id"],
        get_settings().organisation_link_days,
        subscriber_id=lead["id"],
        organisation=organisation,
    )


def report(client, token: str, **params):
    query = f"?{urlencode(params)}" if params else ""
    return client.http.get(f"/api/organisation/{token}/report{query}", headers=JSON_H)


def body(resp) -> str:
    return resp.body.decode() if isinstance(resp.body, bytes) else (resp.body or "")


def riverside(stories: Generated) -> list[dict]:
    return [s for s in stories.stories if any(x.startswith("riverside") for x in s["services"])]


def approx(a, b):
    return a == b if not isinstance(b, float) else a == pytest.approx(b)


def assert_figures(got: dict, expected: dict, what: str) -> None:
    for key in FIGURES:
        assert approx(got[key], expected[key]), (what, key, got[key], expected[key])


# ---- the figures are the stories' own ----------------------------------------------------------------


QUERIES = [
    ({"period": "month"}, month_bounds(2026, 10), month_bounds(2026, 9), lambda s: True),
    (
        {"period": "30-days"},
        (datetime(2026, 10, 4, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)),
        (datetime(2026, 9, 4, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)),
        lambda s: True,
    ),
    (
        {"period": "dates", "from": "2026-09-10", "to": "2026-10-20", "service": "riverside-ward-7"},
        (datetime(2026, 9, 10, tzinfo=UTC), datetime(2026, 10, 21, tzinfo=UTC)),
        (datetime(2026, 7, 31, tzinfo=UTC), datetime(2026, 9, 10, tzinfo=UTC)),
        lambda s: "riverside-ward-7" in s["services"],
    ),
    ({"period": "month", "tag": "food"}, month_bounds(2026, 10), month_bounds(2026, 9), lambda s: "food" in s["tags"]),
    (
        {"period": "month", "criticality": "3", "progress": "responded"},
        month_bounds(2026, 10),
        month_bounds(2026, 9),
        lambda s: s["criticality"] >= 3 and bool(s.get("first_response_at")),
    ),
    (
        {"period": "month", "progress": "awaiting", "overdue": "yes"},
        month_bounds(2026, 10),
        month_bounds(2026, 9),
        lambda s: not s.get("first_response_at") and bool(s.get("overdue_at")),
    ),
    (
        {"period": "month", "progress": "made"},
        month_bounds(2026, 10),
        month_bounds(2026, 9),
        lambda s: bool(s.get("change_made_at")),
    ),
    (
        {"period": "month", "progress": "planned", "overdue": "no"},
        month_bounds(2026, 10),
        month_bounds(2026, 9),
        lambda s: bool(s.get("change_planned_at")),
    ),
]


def test_the_figures_equal_a_brute_force_recount_of_the_generated_stories(aws, client, stories, leads):
    token = link(leads["riverside"])
    mine = riverside(stories)
    assert len(mine) == 80 and len(stories.stories) == 88  # two months of Riverside's, and Hillside's apart
    for params, (lo, hi), (blo, bhi), keep in QUERIES:
        resp = report(client, token, **params)
        assert resp.status_code == 200, (params, body(resp))
        got = json.loads(body(resp))
        now = [s for s in mine if within(s, lo, hi) and keep(s)]
        before = [s for s in mine if within(s, blo, bhi) and keep(s)]
        assert now, params  # each query chooses some stories, or it tests nothing
        assert_figures(got["figures"], recount(now), f"{params} now")
        assert_figures(got["previous_figures"], recount(before), f"{params} before")
        # The comparison: a change only when both periods have five stories.
        enough = len(now) >= 5 and len(before) >= 5
        for row in got["comparison"]:
            if enough and row["now"] is not None and row["before"] is not None:
                assert approx(row["change"], row["now"] - row["before"]), (params, row)
            else:
                assert row["change"] is None, (params, row)
        # The page lists the newest stories (at most 50), newest first.
        listed = [s["id"] for s in got["stories"]]
        assert listed == [s["id"] for s in sorted(now, key=lambda s: s["published_at"], reverse=True)][:50]
        assert got["more"] == max(0, len(now) - 50)


def test_by_service_shows_figures_only_for_five_or_more_stories(aws, client, stories, leads):
    token = link(leads["riverside"])
    got = json.loads(body(report(client, token, period="month", service="riverside-general")))
    october = [s for s in riverside(stories) if within(s, *month_bounds(2026, 10))]
    rows = {r["slug"]: r for r in got["by_service"]}
    assert set(rows) == {"riverside-ward-7", "riverside-maternity"}
    for slug, row in rows.items():
        theirs = [s for s in october if slug in s["services"]]
        assert row["shown"] == (len(theirs) >= 5)
        if row["shown"]:
            assert_figures(row["figures"], recount(theirs), slug)
        else:
            assert row["figures"] is None
    # A narrow filter leaves fewer than five: nothing of it is shown, and the page says so.
    narrow = json.loads(
        body(report(client, token, period="month", service="riverside-general", criticality="5", tag="food"))
    )
    assert all(not r["shown"] and r["figures"] is None for r in narrow["by_service"])
    page = body(
        client.http.get(f"/api/organisation/{token}/report?period=month&criticality=5&tag=food", headers=HTML_H)
    )
    assert "Fewer than 5 stories: not shown" in page or "no services within it" in page
    assert "The changes are shown only when both periods have at least 5 stories" in page


def test_the_chart_is_the_public_site_s_from_the_service_s_counter(aws, client, stories, leads):
    token = link(leads["riverside"])
    page = body(client.http.get(f"/api/organisation/{token}/report?period=month", headers=HTML_H))
    mine = riverside(stories)
    for month in ("2026-09", "2026-10"):
        count = sum(1 for s in mine if s["published_at"].startswith(month))
        assert f'data-month="{month}"' in page
        assert re.search(rf'<th scope="row">[A-Za-z]+ {month[:4]}</th><td>{count}</td>', page)
    assert page.count('class="chart__bar"') == 12


# ---- the export ---------------------------------------------------------------------------------------


def _expected_rows(stories: Generated, chosen: list[dict]) -> dict[str, dict]:
    out = {}
    for s in chosen:
        responses = stories.responses.get(s["id"], [])
        out[s["id"]] = {
            "title": s["title"],
            "published_at": s["published_at"],
            "criticality": str(s["criticality"]),
            "tags": ", ".join(s["tags"]),
            "first_response_at": s.get("first_response_at", ""),
            "change_made_at": s.get("change_made_at", ""),
            "overdue_at": s.get("overdue_at", ""),
            "responders": "; ".join(f"{r['name']}, {r['role']}, {r['organisation_name']}" for r in responses),
            "improve": s["improve"],
            "role": s["role"],
        }
    return out


def test_the_export_opens_as_csv_and_xlsx_row_for_row_and_nothing_in_it_is_a_formula_or_an_address(
    aws, client, stories, leads
):
    from openpyxl import load_workbook

    token = link(leads["riverside"])
    chosen = [s for s in riverside(stories) if within(s, *month_bounds(2026, 10))]
    expected = _expected_rows(stories, chosen)
    got_csv = client.http.get(f"/api/organisation/{token}/report.csv?period=month", headers=BROWSER)
    got_xlsx = client.http.get(f"/api/organisation/{token}/report.xlsx?period=month", headers=BROWSER)
    for resp, kind in ((got_csv, "csv"), (got_xlsx, "xlsx")):
        assert resp.status_code == 200, body(resp)[:300]
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert resp.headers["Content-Disposition"].endswith(f'.{kind}"')
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert got_csv.headers["Content-Type"].startswith("text/csv")

    table_csv = list(csv.reader(io.StringIO(got_csv.body.decode("utf-8"))))
    sheet = load_workbook(io.BytesIO(got_xlsx.body), read_only=True).active
    table_xlsx = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    # Formulas would come back from openpyxl as cells of type "f": there are none.
    book = load_workbook(io.BytesIO(got_xlsx.body))
    assert all(c.data_type != "f" for row in book.active.iter_rows() for c in row)

    for name, table, inert in (("csv", table_csv, "'"), ("xlsx", table_xlsx, "")):
        assert table[0] == list(EXPORT_COLUMNS), name
        rows = [dict(zip(table[0], r, strict=True)) for r in table[1:]]
        assert sorted(r["id"] for r in rows) == sorted(expected), name
        for row in rows:
            want = expected[row["id"]]
            for column, value in want.items():
                if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                    value = inert + value  # CSV: a leading apostrophe; XLSX: a text cell, as typed
                assert row[column] == value, (name, row["id"], column, row[column], value)
            assert row["url"].endswith(f"/stories/{row['id']}/")
            assert row["services"] and row["service_paths"].startswith("Riverside NHS Foundation Trust > ")
            assert row["progress"] in ("No response yet", "Responded to", "Change planned", "Change made")
            for r in stories.responses.get(row["id"], []):
                assert r["text"] in row["responses"]
        evil = [r for r in rows if EVIL_TITLE in r["title"]]
        assert len(evil) == 1, name
        assert evil[0]["title"] == (f"'{EVIL_TITLE}" if name == "csv" else EVIL_TITLE)
        # No cell is a live formula (CSV: none starts with =, +, -, @), and no cell holds an author's address.
        every = [cell for r in table for cell in r]
        if name == "csv":
            assert not [c for c in every if c[:1] in ("=", "+", "-", "@")]
        for address in stories.addresses.values():
            assert not [c for c in every if address in c], (name, address)
        assert not [c for c in every if "@private.example" in c or "mod@example.org" in c], name


# ---- the board report --------------------------------------------------------------------------------


def run_board(client, pump, times: int = 1) -> list:
    # The generated stories were written as the stream leaves them (tests/support/reports.py): their own
    # records would only render pages and alert staff, which no report test looks at. Only the board
    # report's own mail follows.
    pump.skip_to_end()
    out = []
    for _ in range(times):
        out.append(
            client.lambda_.invoke(
                "board_reports",
                client.events.generate_cw_event(
                    source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
                ),
            ).payload
        )
        pump.drain()
    return out


def boards(address: str) -> list:
    return [m for m in mailbox.to(address) if "board report" in str(m["Subject"])]


def test_the_board_report_goes_once_to_each_lead_each_month_even_when_the_job_runs_twice(
    aws, client, pump, stories, leads, held
):
    store = wiring.store()
    # A second Riverside lead who turned it off, and a frozen lead: neither gets it.
    wiring.membership().name_lead({"slug": "riverside-trust", "name": "Riverside"}, "off.lead@nhs.example", by="test")
    off = store.find_subscriber("off.lead@nhs.example")
    store.update_subscriber(off["id"], {"board_report": False})
    # The day before: not the first working day, nothing is queued.
    held.now = NOW - timedelta(days=3)  # Friday 30 October
    assert run_board(client, pump) == [{"queued": 0, "why": "not the first working day of the month"}]
    held.now = NOW
    results = run_board(client, pump, times=2)
    assert [r["month"] for r in results] == ["2026-10", "2026-10"]
    assert all(r["queued"] == 2 for r in results)  # Riverside's lead and Hillside's, each run
    [mail] = boards(LEAD)
    assert len(boards(OTHER_LEAD)) == 1 and boards("off.lead@nhs.example") == []
    text = mailbox.text_of(mail)
    assert "October 2026" in text and "September 2026" in text
    october = [s for s in riverside(stories) if within(s, *month_bounds(2026, 10))]
    september = [s for s in riverside(stories) if within(s, *month_bounds(2026, 9))]
    now, before = recount(october), recount(september)
    assert (
        f"Stories published: {now['stories']} (in September 2026: {before['stories']}; change {now['stories'] - before['stories']:+d})"
        in text
    )
    assert f"Changes made: {now['made']} (in September 2026: {before['made']}" in text
    overdue = [s for s in october + september if s.get("overdue_at") and not s.get("first_response_at")]
    assert f"Waiting past the promised time now ({len(overdue)}," in text
    made = [s for s in october + september if s.get("change_made_at", "").startswith("2026-10")]
    assert f"Changes made in October 2026 ({len(made)})" in text
    assert "/report?period=month" in text and "private.example" not in text
    # Hillside's lead hears of Hillside only.
    other = mailbox.text_of(boards(OTHER_LEAD)[0])
    assert "Hillside" in other and "Riverside" not in other
    # The next day's run sends nothing more.
    held.now = NOW + timedelta(days=1)
    assert run_board(client, pump)[0]["queued"] == 0
    assert len(boards(LEAD)) == 1


def test_a_lead_turns_the_board_report_off_and_on_from_the_report_page(aws, client, pump, leads, held):
    token = link(leads["riverside"])
    url = f"/api/organisation/{token}/report"
    resp = client.http.post(url, body=urlencode({"action": "board-report", "board_report": "off"}), headers=FORM_H)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/report?notice=board-off")
    assert wiring.store().get_subscriber(leads["riverside"]["id"])["board_report"] is False
    page = body(client.http.get(f"{url}?notice=board-off", headers=HTML_H))
    assert "You will not get the board report" in page and "Turn on the board report email" in page
    assert run_board(client, pump)[0]["queued"] == 1  # Hillside's lead only
    assert boards(LEAD) == []
    resp = client.http.post(url, body=json.dumps({"action": "board-report", "board_report": True}),
                            headers={"Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 200 and json.loads(body(resp)) == {"done": "board-on"}
    assert wiring.store().get_subscriber(leads["riverside"]["id"])["board_report"] is True
    bad = client.http.post(url, body=json.dumps({"action": "board-report", "board_report": "maybe"}),
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert bad.status_code == 422 and json.loads(body(bad))["error"]["fields"][0]["field"] == "board_report"


# ---- a lead sees only their own organisation -----------------------------------------------------------


def test_a_lead_of_one_organisation_cannot_see_another_s_report(aws, client, stories, leads):
    token = link(leads["riverside"])
    for service in ("hillside-trust", "hillside-district-nursing"):
        for path in ("report", "report.csv", "report.xlsx"):
            resp = client.http.get(f"/api/organisation/{token}/{path}?service={service}", headers=JSON_H)
            assert resp.status_code == 422, (service, path)
            assert json.loads(body(resp))["error"]["fields"][0]["field"] == "service"
    mine = json.loads(body(report(client, token, period="month")))
    hillside_ids = {s["id"] for s in stories.stories if s["services"][0].startswith("hillside")}
    assert hillside_ids and not hillside_ids & {s["id"] for s in mine["stories"]}
    csv_text = client.http.get(f"/api/organisation/{token}/report.csv?period=year", headers=BROWSER).body.decode()
    assert not [i for i in hillside_ids if i in csv_text]
    # A Riverside lead's link is no Hillside lead's: bound to its organisation and its holder.
    stolen = link(leads["riverside"], organisation="hillside-trust")
    assert client.http.get(f"/api/organisation/{stolen}/report", headers=JSON_H).status_code == 404
    theirs = json.loads(body(report(client, link(leads["hillside"], "hillside-trust"), period="month")))
    assert theirs["organisation"]["slug"] == "hillside-trust"
    assert {s["id"] for s in theirs["stories"]} <= hillside_ids and theirs["figures"]["stories"] == 4
    # A member who is not a lead has no report.
    wiring.store().update_subscriber(leads["riverside"]["id"], {"access": "responder"})
    assert client.http.get(f"/api/organisation/{token}/report", headers=JSON_H).status_code == 404


# ---- bad values are a 4xx naming the field --------------------------------------------------------------


@pytest.mark.parametrize(
    "params, field",
    [
        ({"period": "decade"}, "period"),
        ({"period": "dates", "from": "2026-13-01", "to": "2026-10-01"}, "from"),
        ({"period": "dates", "from": "yesterday", "to": "2026-10-01"}, "from"),
        ({"period": "dates", "from": "2026-10-01"}, "to"),
        ({"period": "dates", "from": "2026-10-05", "to": "2026-10-01"}, "to"),
        ({"period": "dates", "from": "2026-10-05", "to": "2027-01-01"}, "to"),
        ({"period": "dates", "from": "2022-01-01", "to": "2026-10-01"}, "to"),
        ({"service": "../etc/passwd"}, "service"),
        ({"service": "no-such-service"}, "service"),
        ({"tag": "<script>"}, "tag"),
        ({"criticality": "6"}, "criticality"),
        ({"criticality": "-1"}, "criticality"),
        ({"progress": "finished"}, "progress"),
        ({"overdue": "maybe"}, "overdue"),
    ],
)
def test_a_bad_period_or_filter_is_a_4xx_naming_the_field(aws, client, leads, params, field):
    token = link(leads["riverside"])
    for path in ("report", "report.csv", "report.xlsx"):
        resp = client.http.get(f"/api/organisation/{token}/{path}?{urlencode(params)}", headers=JSON_H)
        assert resp.status_code == 422, (path, resp.status_code, body(resp)[:300])
        assert field in [f["field"] for f in json.loads(body(resp))["error"]["fields"]]
    page = client.http.get(f"/api/organisation/{token}/report?{urlencode(params)}", headers=HTML_H)
    assert page.status_code == 422 and 'class="error-summary"' in body(page) and f'href="#{field}"' in body(page)


def test_a_bad_link_on_a_report_route_is_refused_as_any_bad_link(aws, client, leads):
    for path in ("report", "report.csv", "report.xlsx"):
        resp = client.http.get(f"/api/organisation/{'x' * 43}/{path}?period=decade", headers=JSON_H)
        assert resp.status_code == 404, path


# ---- the page and the email are valid HTML ---------------------------------------------------------------


@needs_vnu
def test_the_report_pages_and_the_board_email_are_valid_html(aws, client, pump, stories, leads, tmp_path):
    token = link(leads["riverside"])
    url = f"/api/organisation/{token}/report"
    pages = {
        "report.html": body(client.http.get(url, headers=HTML_H)),
        "report-month.html": body(client.http.get(f"{url}?period=month&service=riverside-general", headers=HTML_H)),
        "report-empty.html": body(client.http.get(f"{url}?period=quarter&tag=food&criticality=5", headers=HTML_H)),
        "report-errors.html": body(client.http.get(f"{url}?period=dates&from=x&to=2030-01-01", headers=HTML_H)),
        "report-off.html": body(client.http.get(f"{url}?notice=board-off", headers=HTML_H)),
    }
    run_board(client, pump)
    pages["email.html"] = mailbox.html_of(boards(LEAD)[-1])
    assert vnu_errors(pages, tmp_path) == ""


# ---- any member: a report on the services they follow ------------------------------------------------


def manage_link(person: dict) -> str:
    return wiring.links().issue(
        "manage", "", person["id"], get_settings().subscriber_link_days, subscriber_id=person["id"]
    )


def test_a_member_sees_a_report_on_the_services_they_follow_and_nothing_else(aws, client, stories, leads):
    from tests.support.subscriptions import active

    nurse, _ = active("nora.nurse@riverside.nhs.example", "reader", service="riverside-maternity")
    token = manage_link(nurse)
    got = json.loads(body(client.http.get(f"/api/subscriptions/manage/{token}/report?period=month", headers=JSON_H)))
    assert got["service"]["slug"] == "riverside-maternity"  # the one they follow, unasked
    october = [s for s in stories.stories if within(s, *month_bounds(2026, 10))]
    maternity = [s for s in october if "riverside-maternity" in s["services"]]
    assert maternity and len(maternity) < len([s for s in october if s in riverside(stories)])
    assert_figures(got["figures"], recount(maternity), "maternity, October")
    assert {s["id"] for s in got["stories"]} == {s["id"] for s in maternity}
    assert "lead" not in got and "member" not in got  # who asks is not part of the answer
    csv_text = body(client.http.get(f"/api/subscriptions/manage/{token}/report.csv?period=month", headers=BROWSER))
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert sorted(r["id"] for r in rows) == sorted(s["id"] for s in maternity)

    # Above what they follow, beside it, or in another organisation: refused by name, for every route.
    for service in ("riverside-general", "riverside-trust", "riverside-ward-7", "hillside-district-nursing"):
        for path in ("report", "report.csv", "report.xlsx"):
            resp = client.http.get(f"/api/subscriptions/manage/{token}/{path}?service={service}", headers=JSON_H)
            assert resp.status_code == 422, (service, path)
            assert json.loads(body(resp))["error"]["fields"] == [
                {"field": "service", "message": "Choose a service you follow"}
            ]
    # The lead's routes are not theirs, and a member's link is not a lead's.
    assert client.http.get(f"/api/organisation/{token}/report", headers=JSON_H).status_code == 404
    lead_token = link(leads["riverside"])
    assert client.http.get(f"/api/subscriptions/manage/{lead_token}/report", headers=JSON_H).status_code == 404


def test_a_member_following_a_parent_sees_everything_under_it(aws, client, stories, leads):
    from tests.support.subscriptions import active

    manager, _ = active("mo.manager@riverside.nhs.example", "responder", service="riverside-general")
    token = manage_link(manager)
    url = f"/api/subscriptions/manage/{token}/report"
    under = json.loads(body(client.http.get(f"{url}?period=month&service=riverside-ward-7", headers=JSON_H)))
    ward = [s for s in stories.stories if within(s, *month_bounds(2026, 10)) and "riverside-ward-7" in s["services"]]
    assert ward and under["figures"]["stories"] == len(ward)
    chosen = json.loads(body(client.http.get(url, headers=JSON_H)))
    assert chosen["service"]["slug"] == "riverside-general"
    page = body(client.http.get(url, headers=HTML_H))
    assert "Report on the services you follow" in page and "Back to your alerts" in page
    assert "board report" not in page.lower()  # the board report is for leads
    assert client.http.get(f"{url}?service=riverside-trust", headers=JSON_H).status_code == 422


@pytest.mark.parametrize(
    "change",
    [
        {"status": "frozen"},
        {"status": "requested", "access": ""},
        {"status": "active", "access": ""},
        {"status": "unsubscribed"},
        {"organisation": "hillside-trust"},  # follows Riverside's ward, but is Hillside's: nothing of its own
    ],
)
def test_no_report_for_anyone_without_a_grant_or_nothing_of_their_own_to_follow(aws, client, stories, leads, change):
    from tests.support.subscriptions import active

    person, _ = active("pat.person@riverside.nhs.example", "reader", service="riverside-ward-7")
    token = manage_link(person)
    assert client.http.get(f"/api/subscriptions/manage/{token}/report", headers=JSON_H).status_code == 200
    wiring.store().update_subscriber(person["id"], change)
    for path in ("report", "report.csv", "report.xlsx"):
        resp = client.http.get(f"/api/subscriptions/manage/{token}/{path}", headers=JSON_H)
        assert resp.status_code == 404, (change, path)


def test_the_manage_page_offers_reports_only_to_a_member_with_a_grant(aws, client, leads):
    from tests.support.subscriptions import active

    person, _ = active("pat.person@riverside.nhs.example", "reader", service="riverside-ward-7")
    token = manage_link(person)
    page = body(client.http.get(f"/api/subscriptions/manage/{token}", headers=HTML_H))
    assert f"/api/subscriptions/manage/{token}/report" in page
    wiring.store().update_subscriber(person["id"], {"status": "active", "access": ""})
    page = body(client.http.get(f"/api/subscriptions/manage/{token}", headers=HTML_H))
    assert "/report" not in page and "Your alerts" in page


@needs_vnu
def test_a_member_s_report_page_is_valid_html(aws, client, stories, leads, tmp_path):
    from tests.support.subscriptions import active

    person, _ = active("pat.person@riverside.nhs.example", "reader", service="riverside-ward-7")
    token = manage_link(person)
    url = f"/api/subscriptions/manage/{token}/report"
    pages = {
        "member.html": body(client.http.get(url, headers=HTML_H)),
        "member-errors.html": body(client.http.get(f"{url}?service=riverside-trust", headers=HTML_H)),
        "manage.html": body(client.http.get(f"/api/subscriptions/manage/{token}", headers=HTML_H)),
    }
    assert "Choose a service you follow" in pages["member-errors.html"]
    assert vnu_errors(pages, tmp_path) == ""
