"""Misure elettriche: 15-minute electricity data read, aggregated by resolution and
band, drawn and written as CSV."""
import datetime
import functools
import operator
from dataclasses import dataclass

import plotly.graph_objects as go
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import SQL, fn

import models
from models import Measurement, rome_now
from portal.charts import BAND_COLOURS, GAP_COLOUR, GRID, PREVIOUS_COLOUR, base_layout
from portal.formatting import (CSV_BOM, csv_cell, csv_line, day_name, local_number, month_name,
                               page_language)
from portal.timebands import BANDS, F1, F2, F3, RomeClock, midnight_timestamp, next_month


# --- Resolution and aggregation of interval data ------------------------------------

@dataclass(frozen=True)
class Resolution:
    name: str
    label: str        # "Dettaglio: ..." in the page
    seconds: int      # length of a bucket (0: calendar days or months)
    decimals: int     # decimals of the energy of one bucket


QUARTER_HOUR = Resolution("15min", _l("15 minuti"), 900, 3)
HOURLY = Resolution("hour", _l("orario"), 3600, 2)
DAILY = Resolution("day", _l("giornaliero"), 0, 1)
MONTHLY = Resolution("month", _l("mensile"), 0, 0)

QUARTER_HOUR_DAYS = 7
HOURLY_DAYS = 31
DAILY_DAYS = 731  # beyond two years a bar a day is unreadable: months


def choose_resolution(days, step=900):
    """15 minutes up to 7 days, hourly up to 31, daily up to two years, monthly beyond;
    never finer than the meter's own interval (`step`, seconds)."""
    if days <= QUARTER_HOUR_DAYS and step <= QUARTER_HOUR.seconds:
        return QUARTER_HOUR
    if days <= HOURLY_DAYS:
        return HOURLY
    if days <= DAILY_DAYS:
        return DAILY
    return MONTHLY


def interval_step(rows, grouped):
    """The meter's interval in seconds: the shortest distance between raw rows, or for
    hourly groups 3600 / the most intervals found in one hour. 900 without data."""
    if grouped:
        most = max((row[2] for row in rows), default=0)
        return 3600 // most if most else QUARTER_HOUR.seconds
    # Differences of neighbours, the positive ones only, without a Python step per row.
    stamps = [row[0] for row in rows]
    shortest = min(filter((0).__lt__, map(operator.sub, stamps[1:], stamps)), default=None)
    return shortest or QUARTER_HOUR.seconds


@dataclass
class Bucket:
    x: str                 # start in Rome local time, ISO (the chart's x)
    label: str             # the period in Italian (hover)
    energy: dict           # band -> kWh; empty when no interval was measured
    intervals: int         # intervals measured
    expected: int          # intervals expected (up to now)
    band: str = None       # the bucket's only band, at 15-minute and hourly resolution
    width_ms: int = 0      # length in milliseconds on the chart's local-time axis
    # The hour that happens twice when summer time ends: 0 for its first (summer
    # time) occurrence, 1 for the second. Both share an x; each gets half the slot.
    fold: int = None

    @property
    def total(self):
        return sum(self.energy.values()) if self.intervals else None

    @property
    def missing(self):
        """No data for a period that has already begun: a gap, not a zero."""
        return self.intervals == 0 and self.expected > 0

    @property
    def partial(self):
        return 0 < self.intervals < self.expected


@dataclass
class Series:
    resolution: Resolution
    first_day: datetime.date
    last_day: datetime.date
    step: int
    energy: dict           # band -> kWh over the range
    max_power: dict        # band -> highest kW over the range (None without data)
    intervals: int
    expected: int
    # Daily and monthly: the Buckets. 15 minutes and hourly: the calendar's slots of each
    # day and the sums by slot start, turned into Buckets only when asked (`buckets`):
    # the chart reads them as they are (`clock_slots`), 672 objects fewer a week.
    calendar_buckets: list = None
    day_slots: tuple = ()
    sums: dict = None
    expected_until: int = 0

    @functools.cached_property
    def buckets(self):
        if self.calendar_buckets is not None:
            return self.calendar_buckets
        width_ms = self.resolution.seconds * 1000
        return [Bucket(x, label, _band_energy(values), values[3] if values else 0, expected,
                       band, width_ms, fold)
                for x, label, band, fold, values, expected in self.clock_slots()]

    def clock_slots(self):
        """15 minutes and hourly: (x, label, band, fold, sums or None, intervals
        expected) of every bucket in time order; sums are [kWh F1, F2, F3, intervals]."""
        seconds, step, sums = self.resolution.seconds, self.step, self.sums
        limit = min(self.expected_until,
                    midnight_timestamp(self.last_day + datetime.timedelta(days=1)))
        whole = seconds // step
        for slots in self.day_slots:
            for bucket_start, x, label, band, fold in slots:
                yield (x, label, band, fold, sums.get(bucket_start),
                       whole if bucket_start + seconds <= limit
                       else max(limit - bucket_start, 0) // step)

    @property
    def total(self):
        return sum(self.energy.values())

    @property
    def missing_intervals(self):
        return max(self.expected - self.intervals, 0)

    @property
    def missing_buckets(self):
        return [bucket for bucket in self.buckets if bucket.missing]

    @property
    def highest_power(self):
        values = [value for value in self.max_power.values() if value is not None]
        return max(values) if values else None

    def share(self, band):
        total = self.total
        return self.energy[band] / total * 100 if total else None

    @property
    def x_range(self):
        end = self.last_day + datetime.timedelta(days=1)
        return [f"{self.first_day.isoformat()} 00:00", f"{end.isoformat()} 00:00"]


def _clock_label(local, minute, seconds, language):
    """'lun 4 mar 2024, 10:15–10:30' (with ora legale/solare on the repeated hour);
    'Mon 4 Mar 2024, 10:15–10:30' in English."""
    day = local.day
    end_minutes = local.hour * 60 + minute + seconds // 60
    text = (f"{day_name(day.weekday(), True, language)} {day.day} "
            f"{month_name(day.month, True, language)} {day.year}, "
            f"{local.hour:02d}:{minute:02d}–{end_minutes // 60 % 24:02d}:{end_minutes % 60:02d}")
    if local.repeated:
        text += " (" + (_("ora legale") if local.offset == 2 else _("ora solare")) + ")"
    return text


@functools.lru_cache(maxsize=2048)
def _day_slots(day, seconds, language):
    """The 15-minute or hourly buckets of one Rome day, as the calendar alone makes
    them: (start timestamp, x, label, band, fold). Shared by every point and request
    of the same language (a week at 15 minutes is 672 labels to format)."""
    clock = RomeClock()
    slots = []
    for bucket_start in range(midnight_timestamp(day),
                              midnight_timestamp(day + datetime.timedelta(days=1)), seconds):
        local = clock.hour(bucket_start // 3600)
        minute = bucket_start % 3600 // 60
        slots.append((bucket_start, f"{local.day.isoformat()} {local.hour:02d}:{minute:02d}",
                      _clock_label(local, minute, seconds, language), local.band,
                      (0 if local.offset == 2 else 1) if local.repeated else None))
    return tuple(slots)

def aggregate(rows, first_day, last_day, resolution, step, expected_until, clock=None):
    """Interval rows -> a Series of buckets at `resolution` over the Rome days
    first_day..last_day, with energy by band.

    `rows` are (start timestamp, kWh, intervals, highest kW) sorted by time: raw meter
    rows (intervals = 1) or hourly groups. A bucket without rows stays empty (a gap in
    the chart, never a zero); intervals from `expected_until` on are not expected yet."""
    clock = clock or RomeClock()
    start = midnight_timestamp(first_day)
    end = midnight_timestamp(last_day + datetime.timedelta(days=1))
    seconds = resolution.seconds
    daily = resolution is DAILY
    energy = [0.0, 0.0, 0.0]           # by band, in BANDS order
    max_power = [None, None, None]
    sums = {}                          # bucket key -> [kWh F1, kWh F2, kWh F3, intervals]
    measured = 0
    # The hot loop of the page (8,784 hourly rows for a year): the Rome day is looked
    # up once per day and everything else is arithmetic on tuples and lists.
    day_of = clock.day_of
    first_hour = end_hour = -1
    slots = ()
    bucket = None
    for timestamp, kwh, intervals, power in rows:
        utc_hour = timestamp // 3600
        if not first_hour <= utc_hour < end_hour:
            rome_day = day_of(utc_hour)
            first_hour, end_hour, slots = rome_day.first_hour, rome_day.end_hour, rome_day.slots
            if not seconds:
                day = rome_day.day
                key = day if daily else (day.year, day.month)
                bucket = sums.get(key)
                if bucket is None:
                    bucket = sums[key] = [0.0, 0.0, 0.0, 0]
        if seconds:
            key = timestamp - timestamp % seconds
            bucket = sums.get(key)
            if bucket is None:
                bucket = sums[key] = [0.0, 0.0, 0.0, 0]
        slot = slots[utc_hour - first_hour]
        bucket[slot] += kwh
        bucket[3] += intervals
        energy[slot] += kwh
        measured += intervals
        if power is not None and (max_power[slot] is None or power > max_power[slot]):
            max_power[slot] = power
    energy = dict(zip(BANDS, energy))
    max_power = dict(zip(BANDS, max_power))

    def expected(bucket_start, bucket_end):
        return max(min(bucket_end, expected_until, end) - bucket_start, 0) // step

    if seconds:
        language = page_language()
        day_slots = []
        day = first_day
        while day <= last_day:
            day_slots.append(_day_slots(day, seconds, language))
            day += datetime.timedelta(days=1)
        return Series(resolution=resolution, first_day=first_day, last_day=last_day,
                      step=step, energy=energy, max_power=max_power, intervals=measured,
                      expected=expected(start, end), day_slots=tuple(day_slots), sums=sums,
                      expected_until=expected_until)
    buckets = []
    if resolution is DAILY:
        day = first_day
        bucket_start = start
        while day <= last_day:
            following = day + datetime.timedelta(days=1)
            bucket_end = midnight_timestamp(following)
            values = sums.get(day)
            buckets.append(Bucket(
                x=day.isoformat(),
                label=f"{day_name(day.weekday())} {day.day} {month_name(day.month)} {day.year}",
                energy=_band_energy(values), intervals=values[3] if values else 0,
                expected=expected(bucket_start, bucket_end), width_ms=86_400_000))
            day, bucket_start = following, bucket_end
    else:
        month = first_day.replace(day=1)
        while month <= last_day:
            following = next_month(month)
            bucket_start = max(midnight_timestamp(month), start)
            bucket_end = min(midnight_timestamp(following), end)
            values = sums.get((month.year, month.month))
            buckets.append(Bucket(
                x=month.isoformat(), label=f"{month_name(month.month)} {month.year}",
                energy=_band_energy(values), intervals=values[3] if values else 0,
                expected=expected(bucket_start, bucket_end),
                width_ms=(following - month).days * 86_400_000))
            month = following
    return Series(resolution=resolution, first_day=first_day, last_day=last_day, step=step,
                  energy=energy, max_power=max_power, intervals=measured,
                  expected=expected(start, end), calendar_buckets=buckets)


def _band_energy(values):
    if not values:
        return {}
    return {F1: values[0], F2: values[1], F3: values[2]}


# --- Reading the intervals -----------------------------------------------------------

def fetch(query):
    """The rows of a query as the DB-API cursor gives them. Peewee's tuples() converts
    every value in Python: three to four times slower on a year of intervals."""
    return models.db.execute(query)


def stream_batches(query, batch=2000):
    """The rows in lists of up to `batch`, never all in memory: whoever reads them row by
    row through itertools.chain pays no generator step per row. SQLite steps its
    cursor; psycopg would read the whole result first, so PostgreSQL gets a server-side
    cursor, which lives inside a transaction."""
    if isinstance(models.db.obj, models.SqliteDatabase):
        cursor = fetch(query)
        yield from iter(lambda: cursor.fetchmany(batch), [])
        return
    with models.db.atomic():
        # Peewee wraps the named cursor to hand out rows one by one: read its batches.
        cursor = models.db.execute(query, named_cursor=True, array_size=batch)
        try:
            yield from iter(lambda: cursor.cursor.fetchmany(batch), [])
        finally:
            cursor.close()


def interval_rows(supply_point, start, end):
    """Raw intervals (timestamp, kWh, 1, kW) of [start, end): a range scan of the
    (supply_point, timestamp) index, whatever else the table holds."""
    return (Measurement
            .select(Measurement.timestamp, Measurement.active_energy_kwh, SQL("1"),
                    Measurement.power_kw)
            .where((Measurement.supply_point == supply_point)
                   & (Measurement.timestamp >= start)
                   & (Measurement.timestamp < end)
                   & Measurement.visible())
            .order_by(Measurement.timestamp))


def hourly_rows(supply_point, start, end):
    """The same range summed by UTC hour in the database (a quarter of the rows):
    (hour start, kWh, intervals, highest kW). Bands change only on the hour and Rome
    is a whole number of hours from UTC, so nothing is lost for hourly or coarser
    charts."""
    # A literal divisor keeps SELECT and GROUP BY the same expression for PostgreSQL,
    # and integer division on both databases.
    hour = Measurement.timestamp / SQL("3600")
    return (Measurement
            .select(hour * SQL("3600"), fn.SUM(Measurement.active_energy_kwh),
                    fn.COUNT(Measurement.id), fn.MAX(Measurement.power_kw))
            .where((Measurement.supply_point == supply_point)
                   & (Measurement.timestamp >= start)
                   & (Measurement.timestamp < end)
                   & Measurement.visible())
            .group_by(hour)
            .order_by(hour))


# The same queries with their SQL built once per engine (Peewee spends a quarter of a
# millisecond a request building it): each request brings its own point and range.
interval_rows_prepared = models.Prepared(interval_rows)
hourly_rows_prepared = models.Prepared(hourly_rows)


def measurement_series(supply_point, first_day, last_day):
    """The chart's Series: 15-minute rows for short ranges, hourly sums otherwise."""
    start = midnight_timestamp(first_day)
    end = midnight_timestamp(last_day + datetime.timedelta(days=1))
    days = (last_day - first_day).days + 1
    grouped = choose_resolution(days) is not QUARTER_HOUR
    rows = list((hourly_rows_prepared if grouped else interval_rows_prepared)
                .cursor(models.id_of(supply_point), start, end))
    step = interval_step(rows, grouped)
    resolution = choose_resolution(days, step)
    # Meters report the day after: today's intervals are not missing yet.
    today = midnight_timestamp(rome_now().date())
    return aggregate(rows, first_day, last_day, resolution, step, today)


# --- Figure ---------------------------------------------------------------------------

def measurement_figure_data(series):
    """Energy of a Series as bars coloured by band (bands stacked at daily and monthly
    resolution); periods without data appear as grey columns ("Senza dati"), never
    as zeros. A plain dict, the JSON plotly.py would send: building it through
    plotly.py's validating objects cost tens of milliseconds per chart."""
    decimals = series.resolution.decimals
    if series.resolution.seconds:
        bars, gaps = _clock_bars(series)
    else:
        bars, gaps = _calendar_bars(series)
    traces = []
    for band, (x, y, labels, details, geometry) in zip(BANDS, bars):
        # x is the start of the period and each bar covers most of it.
        width, offset = _bar_geometry(geometry, 0.85)
        traces.append(dict(
            type="bar", name=band, x=x, y=y, width=width, offset=offset,
            marker=dict(color=BAND_COLOURS[band], line=dict(width=0)), legendrank=BANDS.index(band),
            # The numbers in the hover use the figure's separators (the page's language).
            customdata=labels, hovertext=details,
            hovertemplate=(f"<b>%{{customdata}}</b><br>{band}: %{{y:,.{decimals}f}} kWh"
                           "%{hovertext}<extra></extra>")))
    x, labels, geometry = gaps
    width, offset = _bar_geometry(geometry, 1)
    traces.append(dict(
        type="bar", name=_("Senza dati"), x=x, y=[1] * len(x),
        legendrank=10, width=width, offset=offset, yaxis="y2",
        marker=dict(color=GAP_COLOUR, line=dict(width=0)), showlegend=bool(x),
        customdata=labels,
        hovertemplate="<b>%{customdata}</b><br>" + _("Dati non disponibili") + "<extra></extra>"))
    layout = base_layout(
        # 15-minute and hourly bars have one band each and never share a slot (the
        # repeated autumn hour sits side by side): only days and months stack bands.
        barmode="overlay" if series.resolution.seconds else "stack",
        xaxis=dict(type="date", range=list(series.x_range), showgrid=False, ticks="outside",
                   ticklen=4, linecolor="#aab6c2", showline=True),
        yaxis=dict(title=dict(text="kWh"), rangemode="tozero", gridcolor=GRID,
                   separatethousands=True, zeroline=True, zerolinecolor="#aab6c2",
                   automargin=True),
        yaxis2=dict(overlaying="y", range=[0, 1], visible=False, fixedrange=True),
    )
    if not series.intervals:
        layout["annotations"] = [dict(text=_("Nessuna misura nel periodo scelto"), showarrow=False,
                                      xref="paper", yref="paper", x=0.5, y=0.5,
                                      font=dict(size=15, color=PREVIOUS_COLOUR))]
        layout["yaxis"]["range"] = [0, 1]
    return dict(data=traces, layout=layout)


def measurement_figure(series):
    """measurement_figure_data as a plotly Figure (validated: for tests and tools)."""
    return go.Figure(measurement_figure_data(series))


def _clock_bars(series):
    """15-minute and hourly bars: one band per bucket, so each band's trace carries only
    its own buckets. One pass over the calendar's slots, no Bucket objects: ([x, y,
    labels, hover details, geometry] of each band in BANDS order, [x, labels, geometry]
    of the gaps), geometry being each bar's (slot width, fold)."""
    width_ms = series.resolution.seconds * 1000
    chosen = {band: [] for band in BANDS}
    gaps = []
    # The hot loop of the week chart (672 slots): each slot goes to its band or the
    # gaps; the lists are then read out by comprehensions, cheaper than appends.
    for slot in series.clock_slots():
        values = slot[4]
        if values and values[3]:
            chosen[slot[2]].append(slot)
        elif slot[5] > 0:
            gaps.append(slot)
    bars = []
    for number, band in enumerate(BANDS):
        slots = chosen[band]
        bars.append(([slot[0] for slot in slots],
                     [round(slot[4][number], 6) for slot in slots],
                     [slot[1] for slot in slots],
                     [_partial_note(slot[4][3], slot[5]) if slot[4][3] < slot[5] else ""
                      for slot in slots],
                     _slot_geometry(width_ms, [slot[3] for slot in slots])))
    return bars, ([slot[0] for slot in gaps], [slot[1] for slot in gaps],
                  _slot_geometry(width_ms, [slot[3] for slot in gaps]))


def _slot_geometry(width_ms, folds):
    """(width, fold) pairs of equal slots; one shared pair unless the repeated autumn
    hour is among them."""
    if folds.count(None) == len(folds):
        return [(width_ms, None)] * len(folds)
    return [(width_ms, fold) for fold in folds]


def _calendar_bars(series):
    """Daily and monthly bars: the bands stacked, every segment's hover also giving the
    period's total. The same shape as _clock_bars."""
    decimals = series.resolution.decimals
    measured = [bucket for bucket in series.buckets if bucket.intervals]
    total = _("Totale")
    details = [f"<br>{total}: {local_number(bucket.total, decimals)} kWh"
               f"{_partial_note(bucket.intervals, bucket.expected)}" for bucket in measured]
    x = [bucket.x for bucket in measured]
    labels = [bucket.label for bucket in measured]
    geometry = [(bucket.width_ms, bucket.fold) for bucket in measured]
    bars = [[x, [round(bucket.energy[band], 6) for bucket in measured], labels, details, geometry]
            for band in BANDS]
    gaps = series.missing_buckets
    return bars, ([bucket.x for bucket in gaps], [bucket.label for bucket in gaps],
                  [(bucket.width_ms, bucket.fold) for bucket in gaps])


def _bar_geometry(geometry, share):
    """Widths and offsets in milliseconds of bars that start at their x, from their
    (slot width, fold) pairs: one number each when all bars are alike. The two
    occurrences of the repeated autumn hour share an x, so each takes half of the slot
    instead of stacking into a spike."""
    if geometry and geometry.count(geometry[0]) == len(geometry):
        width_ms, fold = geometry[0]
        if fold is None:
            return width_ms * share, 0
        return width_ms * share / 2, width_ms / 2 * fold
    widths, offsets = [], []
    for width_ms, fold in geometry:
        if fold is None:
            widths.append(width_ms * share)
            offsets.append(0)
        else:
            widths.append(width_ms * share / 2)
            offsets.append(width_ms / 2 * fold)
    return _one_if_alike(widths), _one_if_alike(offsets)


def _one_if_alike(values):
    return values[0] if values and len(set(values)) == 1 else values


def _partial_note(intervals, expected):
    if 0 < intervals < expected:
        return "<br>" + _("Dati parziali: %(measured)s intervalli su %(expected)s",
                          measured=intervals, expected=expected)
    return ""


# --- CSV ------------------------------------------------------------------------------

MEASUREMENT_CSV_HEADER = ("Data e ora inizio", "Fuso orario", "Fascia",
                          "Energia attiva (kWh)", "Potenza (kW)")
_ZONES = {1: "UTC+01:00", 2: "UTC+02:00"}


def measurement_csv(rows, clock=None, batch=1000):
    """The CSV of raw interval rows (timestamp, kWh, 1, kW), header first, `batch` lines a
    chunk: one pass over the rows, constant memory.

    Times are the interval start in Rome local time, with the UTC offset beside it so
    the hour that repeats when summer time ends stays unambiguous. Energy and power
    have three decimals (the meter's Wh and W)."""
    clock = clock or RomeClock()
    yield CSV_BOM + csv_line(csv_cell(name) for name in MEASUREMENT_CSV_HEADER)
    lines = []
    current_hour = first_hour = end_hour = -1
    rome_day = None
    prefix = zone_and_band = ""
    for timestamp, kwh, _intervals, power in rows:
        hour = timestamp // 3600
        if hour != current_hour:
            current_hour = hour
            if not first_hour <= hour < end_hour:
                rome_day = clock.day_of(hour)
                first_hour, end_hour = rome_day.first_hour, rome_day.end_hour
                date_text = f"{rome_day.day.day:02d}/{rome_day.day.month:02d}/{rome_day.day.year}"
            index = hour - first_hour
            offset = rome_day.offsets[index]
            prefix = f"{date_text} {rome_day.hours[index]:02d}:"
            zone_and_band = f";{_ZONES.get(offset, f'UTC+{offset:02d}:00')};{BANDS[rome_day.slots[index]]};"
        if power is None:
            lines.append(f"{prefix}{timestamp % 3600 // 60:02d}{zone_and_band}{kwh:.3f};\r\n")
        else:
            lines.append(f"{prefix}{timestamp % 3600 // 60:02d}{zone_and_band}{kwh:.3f};{power:.3f}\r\n")
        if len(lines) >= batch:
            # Only the numbers hold a "." (dates use "/" and ":"): one replace makes
            # every decimal separator a comma.
            yield "".join(lines).replace(".", ",")
            lines = []
    if lines:
        yield "".join(lines).replace(".", ",")

