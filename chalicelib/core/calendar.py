"""The working-day calendar: the bank holidays of the UK's nations, and counting working days.

Working days skip weekends and the bank holidays of a nation (the `holidays` package, imported
only when first needed: it costs about 200 ms, which the API's cold start never pays). England
and Wales share a calendar; Scotland and Northern Ireland have their own (St Andrew's Day,
2 January, St Patrick's Day, the Twelfth). Days are counted on the UK calendar (Europe/London),
so a moment at 00:30 BST on a Monday counts from that Monday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from .i18n import N_, gettext, ngettext

# A directory node's `holidays`: the bank holidays its working days skip (GOV.UK's three lists).
CALENDARS = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}
DEFAULT_CALENDAR = "england-and-wales"
HOLIDAYS_SAID = {
    "england-and-wales": N_("bank holidays in England and Wales"),
    "scotland": N_("Scottish bank holidays"),
    "northern-ireland": N_("Northern Ireland bank holidays"),
}


@lru_cache(maxsize=64)
def bank_holidays(year: int, calendar: str = DEFAULT_CALENDAR) -> frozenset[date]:
    """One nation's bank holidays in one year, substitute days included (GOV.UK's lists)."""
    import holidays  # lazy: see the module's docstring

    return frozenset(holidays.country_holidays("GB", subdiv=CALENDARS.get(calendar, "ENG"), years=year))


def is_working_day(day: date, calendar: str = DEFAULT_CALENDAR) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year, calendar)


def _next_working_day(day: date, calendar: str = DEFAULT_CALENDAR) -> date:
    day += timedelta(days=1)
    while not is_working_day(day, calendar):
        day += timedelta(days=1)
    return day


@lru_cache(maxsize=1)
def uk_zone() -> tzinfo:
    """Europe/London, the zone every working day and every date people read is counted in."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/London")
    except Exception:  # no time zone database: UTC is at most an hour out
        return UTC


def _working_start(start: datetime, calendar: str) -> tuple[date, time]:
    """Where counting starts: the moment itself on a working day, else the start of the next one."""
    local = start.astimezone(uk_zone())
    if is_working_day(local.date(), calendar):
        return local.date(), local.time().replace(tzinfo=None)
    return _next_working_day(local.date(), calendar), time(0)


def _moments(start: datetime, calendar: str) -> Iterator[datetime]:
    """start + 1 working day, + 2, + 3, ... (UTC): the same time of day on each following working day."""
    day, wall = _working_start(start, calendar)
    while True:
        day = _next_working_day(day, calendar)
        yield datetime.combine(day, wall, tzinfo=uk_zone()).astimezone(UTC)


def add_working_days(start: datetime, days: float, calendar: str = DEFAULT_CALENDAR) -> datetime:
    """`start` plus `days` working days (UTC). A half day adds 12 hours after the whole days,
    moved on to the next working day if that lands on a weekend or bank holiday."""
    whole = int(days)
    day, wall = _working_start(start, calendar)
    for _ in range(whole):
        day = _next_working_day(day, calendar)
    moment = datetime.combine(day, wall, tzinfo=uk_zone())
    fraction = days - whole
    if fraction:
        moment = moment + timedelta(hours=24 * fraction)
        if not is_working_day(moment.date(), calendar):
            moment = datetime.combine(
                _next_working_day(moment.date(), calendar), moment.time().replace(tzinfo=None), tzinfo=uk_zone()
            )
    return moment.astimezone(UTC)


def working_days_between(start: datetime, end: datetime, most: int = 1000, calendar: str = DEFAULT_CALENDAR) -> int:
    """Whole working days from `start` to `end` (0 when `end` comes within the first one)."""
    n = 0
    for moment in _moments(start, calendar):
        if moment > end or n >= most:
            return n
        n += 1
    return n


def lifetime(days: int) -> str:
    """How long a link lasts, as a person says it: "two years", not "730 days" (issue 20)."""
    days = int(days)
    if days >= 365 and days % 365 == 0:
        years = days // 365
        said = {1: N_("a year"), 2: N_("two years"), 3: N_("three years")}.get(years)
        return gettext(said) if said else ngettext("%(num)d year", "%(num)d years", years) % {"num": years}
    return gettext("a day") if days == 1 else ngettext("%(num)d day", "%(num)d days", days) % {"num": days}
