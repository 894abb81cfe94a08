"""ARERA time bands F1/F2/F3 and the Italian calendar they follow, in Rome local time."""
import datetime
import functools
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from models import ROME

# F1 peak, F2 intermediate, F3 off-peak.
F1, F2, F3 = "F1", "F2", "F3"
BANDS = (F1, F2, F3)
BAND_HOURS = {
    F1: _l("lun–ven 8–19"),
    F2: _l("lun–ven 7–8 e 19–23, sab 7–23"),
    F3: _l("lun–sab 23–7, domenica e festivi"),
}

WORKDAY, SATURDAY, HOLIDAY = "workday", "saturday", "holiday"

# National holidays that count as F3 all day, besides Sundays and Easter Monday.
FIXED_HOLIDAYS = ((1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8),
                  (12, 25), (12, 26))


def _band_of_hour(kind, hour):
    if kind == HOLIDAY or hour < 7 or hour >= 23:
        return F3
    if kind == SATURDAY:
        return F2
    return F1 if 8 <= hour < 19 else F2


# The band of each local hour (0-23) for each kind of day: bands change only on the hour.
BAND_BY_HOUR = {kind: tuple(_band_of_hour(kind, hour) for hour in range(24))
                for kind in (WORKDAY, SATURDAY, HOLIDAY)}


def easter_sunday(year):
    """Gregorian Easter Sunday (the anonymous Meeus/Jones/Butcher algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return datetime.date(year, month, day + 1)


@functools.lru_cache(maxsize=256)
def italian_holidays(year):
    """The national holidays of a year that are F3 all day (Sundays aside)."""
    days = {datetime.date(year, month, day) for month, day in FIXED_HOLIDAYS}
    days.add(easter_sunday(year) + datetime.timedelta(days=1))
    return frozenset(days)


def day_kind(day):
    """WORKDAY (Monday-Friday), SATURDAY, or HOLIDAY (Sundays and national holidays)."""
    weekday = day.weekday()
    if weekday == 6 or day in italian_holidays(day.year):
        return HOLIDAY
    return SATURDAY if weekday == 5 else WORKDAY


def time_band(moment):
    """F1, F2 or F3 of a moment: an aware datetime, or a naive one in Rome local time."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ROME)
    return BAND_BY_HOUR[day_kind(moment.date())][moment.hour]


def band_at(timestamp):
    """The band of an interval starting at a UTC epoch timestamp."""
    return time_band(datetime.datetime.fromtimestamp(timestamp, ROME))


@dataclass(frozen=True, slots=True)
class LocalHour:
    """What a UTC hour is in Rome: its local day and hour, band and UTC offset."""
    day: datetime.date
    hour: int
    band: str
    offset: int          # hours ahead of UTC: 1 in winter, 2 in summer
    repeated: bool       # the hour that happens twice when summer time ends


@dataclass(frozen=True, slots=True)
class RomeDay:
    """A Rome calendar day as UTC hours: hour number `first_hour` (timestamp // 3600)
    is local midnight, and the tuples give, for each of its 23, 24 or 25 hours, the
    local hour, the UTC offset and the band's index in BANDS."""
    day: datetime.date
    first_hour: int
    hours: tuple
    offsets: tuple
    slots: tuple

    @property
    def end_hour(self):
        return self.first_hour + len(self.hours)

    def local(self, utc_hour):
        index = utc_hour - self.first_hour
        hour = self.hours[index]
        return LocalHour(self.day, hour, BANDS[self.slots[index]], self.offsets[index],
                         self.hours.count(hour) > 1)


_DAY_HOURS = tuple(range(24))
_SLOTS_BY_KIND = {kind: tuple(BANDS.index(band) for band in bands)
                  for kind, bands in BAND_BY_HOUR.items()}


def midnight_timestamp(day):
    """UTC epoch seconds of 00:00 in Rome on a day (never ambiguous: Rome changes
    the clock at 02:00/03:00)."""
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=ROME).timestamp())


def _utc_offset(moment):
    return int(moment.utcoffset().total_seconds()) // 3600


class RomeClock:
    """Rome local time of UTC hours, worked out one local day at a time.

    Rome is a whole number of hours ahead of UTC, so every interval inside a UTC hour
    shares its local day, hour and band: a year of 15-minute rows needs about 365
    time-zone conversions instead of 35,040, and ordinary days share their tuples.
    Rows come in time order, so a small cache suffices and a ten-year export keeps
    constant memory."""

    MAX_HOURS = 24 * 62

    def __init__(self):
        self._days = {}   # UTC hour number -> RomeDay

    def day_of(self, utc_hour):
        """The RomeDay holding UTC hour number `utc_hour` (timestamp // 3600)."""
        rome_day = self._days.get(utc_hour)
        if rome_day is None:
            if len(self._days) > self.MAX_HOURS:
                self._days.clear()
            rome_day = self._make_day(utc_hour)
            for number in range(rome_day.first_hour, rome_day.end_hour):
                self._days[number] = rome_day
        return rome_day

    def hour(self, utc_hour):
        """The LocalHour of UTC hour number `utc_hour`."""
        return self.day_of(utc_hour).local(utc_hour)

    @staticmethod
    def _make_day(utc_hour):
        day = datetime.datetime.fromtimestamp(utc_hour * 3600, ROME).date()
        first = midnight_timestamp(day) // 3600
        last = midnight_timestamp(day + datetime.timedelta(days=1)) // 3600
        slots = _SLOTS_BY_KIND[day_kind(day)]
        if last - first == 24:
            offset = _utc_offset(datetime.datetime.fromtimestamp(first * 3600, ROME))
            return RomeDay(day, first, _DAY_HOURS, (offset,) * 24, slots)
        # The 23- or 25-hour day of a clock change: ask the time zone about each hour.
        moments = [datetime.datetime.fromtimestamp(number * 3600, ROME)
                   for number in range(first, last)]
        return RomeDay(day, first, tuple(moment.hour for moment in moments),
                       tuple(_utc_offset(moment) for moment in moments),
                       tuple(slots[moment.hour] for moment in moments))


def next_month(day):
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
