"""The operator's business calendar: days are cut in China time for settlement and
statistics alike; a week starts on Monday and is named by that day, a month by its first."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")


def business_day(at: datetime) -> date:
    return at.astimezone(ZONE).date()


def day_start(day: date) -> datetime:
    """The UTC instant a business day starts."""
    return datetime.combine(day, time(), ZONE).astimezone(UTC)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


def quarter_of(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
