"""Dates relative to the day a test runs, for data a service judges against its real clock (ages against a
cap, "not in the future"): a fixed date in such data makes a test that passes today fail on a later day."""
from __future__ import annotations

from datetime import UTC, date, datetime


def utc_today() -> date:
    """Today as the services judge it: the UTC date."""
    return datetime.now(UTC).date()


def born_years_ago(years: int) -> str:
    """An ISO birth date (1 January) that makes a cadre `years` old on every day of the year the test runs."""
    return date(utc_today().year - years, 1, 1).isoformat()
