"""The ARERA time bands and the Italian calendar of portal/timebands.py."""
import datetime

import pytest

from portal import timebands
from portal.timebands import F1, F2, F3
from models import ROME

UTC = datetime.timezone.utc


def rome(*args):
    """Naive Rome local time."""
    return datetime.datetime(*args)


@pytest.mark.parametrize("year, easter", [
    (2000, datetime.date(2000, 4, 23)),
    (2019, datetime.date(2019, 4, 21)),
    (2024, datetime.date(2024, 3, 31)),
    (2025, datetime.date(2025, 4, 20)),
    (2026, datetime.date(2026, 4, 5)),
    (2038, datetime.date(2038, 4, 25)),
])
def test_easter_sunday(year, easter):
    assert timebands.easter_sunday(year) == easter


def test_national_holidays_include_easter_monday():
    holidays = timebands.italian_holidays(2025)
    assert datetime.date(2025, 4, 21) in holidays  # Easter Monday
    assert datetime.date(2025, 4, 20) not in holidays  # Easter Sunday is a Sunday anyway
    assert len(holidays) == 11
    assert datetime.date(2024, 4, 1) in timebands.italian_holidays(2024)


@pytest.mark.parametrize("moment, band", [
    # A Monday
    (rome(2025, 3, 3, 0, 0), F3), (rome(2025, 3, 3, 6, 59), F3), (rome(2025, 3, 3, 7, 0), F2),
    (rome(2025, 3, 3, 7, 59), F2), (rome(2025, 3, 3, 8, 0), F1), (rome(2025, 3, 3, 18, 59), F1),
    (rome(2025, 3, 3, 19, 0), F2), (rome(2025, 3, 3, 22, 59), F2), (rome(2025, 3, 3, 23, 0), F3),
    # A Friday evening, a Saturday, a Sunday
    (rome(2025, 3, 7, 23, 30), F3),
    (rome(2025, 3, 8, 6, 59), F3), (rome(2025, 3, 8, 7, 0), F2), (rome(2025, 3, 8, 12, 0), F2),
    (rome(2025, 3, 8, 22, 59), F2), (rome(2025, 3, 8, 23, 0), F3),
    (rome(2025, 3, 9, 12, 0), F3),
    # National holidays on weekdays and on a Saturday are F3 all day
    (rome(2025, 1, 1, 10, 0), F3), (rome(2025, 1, 6, 10, 0), F3),
    (rome(2025, 4, 21, 10, 0), F3),  # Easter Monday
    (rome(2025, 4, 22, 10, 0), F1),  # the Tuesday after is a workday
    (rome(2025, 4, 25, 10, 0), F3), (rome(2025, 5, 1, 10, 0), F3), (rome(2025, 6, 2, 10, 0), F3),
    (rome(2025, 8, 15, 10, 0), F3), (rome(2025, 11, 1, 10, 0), F3), (rome(2025, 12, 8, 10, 0), F3),
    (rome(2025, 12, 25, 10, 0), F3), (rome(2025, 12, 26, 10, 0), F3),
    (rome(2025, 12, 24, 10, 0), F1),  # Christmas Eve is not a holiday
    (rome(2026, 4, 6, 12, 0), F3),  # Easter Monday 2026
])
def test_time_band(moment, band):
    assert timebands.time_band(moment) == band


def test_time_band_of_aware_moments_uses_rome_time():
    # 06:30 UTC is 08:30 in Rome in summer (F1), though hour 6 alone would say F3.
    assert timebands.time_band(datetime.datetime(2025, 7, 1, 6, 30, tzinfo=UTC)) == F1
    assert timebands.time_band(datetime.datetime(2025, 1, 7, 7, 30, tzinfo=UTC)) == F1
    assert timebands.time_band(datetime.datetime(2025, 1, 7, 6, 30, tzinfo=UTC)) == F2


def test_bands_around_the_summer_time_change():
    # Friday 28 March 2025: 08:00 in Rome is 07:00 UTC.
    assert timebands.band_at(int(datetime.datetime(2025, 3, 28, 7, 0, tzinfo=UTC).timestamp())) == F1
    assert timebands.band_at(int(datetime.datetime(2025, 3, 28, 6, 59, tzinfo=UTC).timestamp())) == F2
    # Monday 31 March, after the change: 08:00 in Rome is 06:00 UTC.
    assert timebands.band_at(int(datetime.datetime(2025, 3, 31, 6, 0, tzinfo=UTC).timestamp())) == F1
    assert timebands.band_at(int(datetime.datetime(2025, 3, 31, 5, 59, tzinfo=UTC).timestamp())) == F2
    # Monday 27 October, after the change back: 08:00 in Rome is 07:00 UTC again.
    assert timebands.band_at(int(datetime.datetime(2025, 10, 27, 7, 0, tzinfo=UTC).timestamp())) == F1
    assert timebands.band_at(int(datetime.datetime(2025, 10, 27, 6, 0, tzinfo=UTC).timestamp())) == F2


def test_rome_clock_on_the_23_and_25_hour_days():
    clock = timebands.RomeClock()
    spring = timebands.midnight_timestamp(datetime.date(2025, 3, 30)) // 3600
    hours = [clock.hour(spring + offset) for offset in range(23)]
    assert [local.hour for local in hours] == [0, 1] + list(range(3, 24))
    assert {local.day for local in hours} == {datetime.date(2025, 3, 30)}
    assert [local.offset for local in hours[:2]] == [1, 1] and hours[2].offset == 2
    assert clock.hour(spring + 23).day == datetime.date(2025, 3, 31)

    autumn = timebands.midnight_timestamp(datetime.date(2025, 10, 26)) // 3600
    hours = [clock.hour(autumn + offset) for offset in range(25)]
    assert [local.hour for local in hours] == [0, 1, 2, 2] + list(range(3, 24))
    assert [(local.offset, local.repeated) for local in hours[2:4]] == [(2, True), (1, True)]
    assert not hours[1].repeated and not hours[4].repeated
    assert {local.band for local in hours} == {F3}  # a Sunday
    assert clock.hour(autumn + 25).day == datetime.date(2025, 10, 27)


def test_rome_clock_agrees_with_time_band_over_two_years():
    clock = timebands.RomeClock()
    start = timebands.midnight_timestamp(datetime.date(2024, 1, 1)) // 3600
    end = timebands.midnight_timestamp(datetime.date(2026, 1, 1)) // 3600
    for hour in range(start, end):
        local = datetime.datetime.fromtimestamp(hour * 3600, ROME)
        found = clock.hour(hour)
        assert (found.day, found.hour, found.band) == (local.date(), local.hour,
                                                       timebands.time_band(local)), local

