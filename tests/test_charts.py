"""The plain functions behind the charts of both areas: aggregation of interval data
(measurements), billed periods (consumption), their Plotly figures and CSV."""
import datetime
import json

import plotly.graph_objects as go
import pytest

from portal import charts, consumption, measurements, timebands
from portal.timebands import F1, F2, F3
from models import ROME


def timestamp(*args):
    """UTC epoch seconds of a Rome wall time that is not ambiguous."""
    return int(datetime.datetime(*args, tzinfo=ROME).timestamp())


def quarter_hours(first_day, last_day, kwh=0.25, power=1.0, skip=()):
    """Raw rows (timestamp, kWh, 1, kW) every 15 minutes over Rome days, leaving out
    the timestamps in `skip`."""
    start = timebands.midnight_timestamp(first_day)
    end = timebands.midnight_timestamp(last_day + datetime.timedelta(days=1))
    return [(moment, kwh, 1, power) for moment in range(start, end, 900) if moment not in skip]


def hourly_groups(rows):
    """What the database's GROUP BY hour returns for raw rows."""
    groups = {}
    for moment, kwh, _, power in rows:
        group = groups.setdefault(moment // 3600 * 3600, [0.0, 0, None])
        group[0] += kwh
        group[1] += 1
        group[2] = power if group[2] is None else max(group[2], power)
    return [(hour, kwh, count, power) for hour, (kwh, count, power) in sorted(groups.items())]


FAR_FUTURE = 10 ** 11


# --- Resolution and aggregation --------------------------------------------------------

@pytest.mark.parametrize("days, step, resolution", [
    (1, 900, measurements.QUARTER_HOUR), (7, 900, measurements.QUARTER_HOUR), (8, 900, measurements.HOURLY),
    (7, 3600, measurements.HOURLY), (31, 900, measurements.HOURLY), (32, 900, measurements.DAILY),
    (366, 900, measurements.DAILY), (731, 900, measurements.DAILY), (732, 900, measurements.MONTHLY),
    (36500, 900, measurements.MONTHLY),
])
def test_resolution_follows_the_range(days, step, resolution):
    assert measurements.choose_resolution(days, step) is resolution


def test_interval_step_of_raw_and_grouped_rows():
    raw = quarter_hours(datetime.date(2025, 3, 3), datetime.date(2025, 3, 3))
    assert measurements.interval_step(raw, grouped=False) == 900
    assert measurements.interval_step(raw[::4], grouped=False) == 3600
    assert measurements.interval_step(hourly_groups(raw), grouped=True) == 900
    assert measurements.interval_step(hourly_groups(raw[::4]), grouped=True) == 3600
    assert measurements.interval_step([], grouped=True) == 900


def test_quarter_hour_aggregation_of_a_monday():
    day = datetime.date(2025, 3, 3)
    rows = quarter_hours(day, day)
    series = measurements.aggregate(rows, day, day, measurements.QUARTER_HOUR, 900, FAR_FUTURE)
    assert len(series.buckets) == 96
    assert series.energy == {F1: 11.0, F2: 5.0, F3: 8.0}  # 11, 5 and 8 hours
    assert series.intervals == series.expected == 96 and series.missing_intervals == 0
    first, at_eight = series.buckets[0], series.buckets[32]
    assert (first.x, first.band, first.energy[F3]) == ("2025-03-03 00:00", F3, 0.25)
    assert (at_eight.x, at_eight.band) == ("2025-03-03 08:00", F1)
    assert at_eight.label == "lun 3 mar 2025, 08:00–08:15"
    assert series.max_power == {F1: 1.0, F2: 1.0, F3: 1.0}


def test_missing_intervals_stay_gaps_not_zeros():
    day = datetime.date(2025, 3, 3)
    missing = {timestamp(2025, 3, 3, 10, 0), timestamp(2025, 3, 3, 10, 15), timestamp(2025, 3, 3, 10, 30)}
    series = measurements.aggregate(quarter_hours(day, day, skip=missing), day, day,
                              measurements.QUARTER_HOUR, 900, FAR_FUTURE)
    gaps = series.missing_buckets
    assert [bucket.x for bucket in gaps] == ["2025-03-03 10:00", "2025-03-03 10:15", "2025-03-03 10:30"]
    assert all(bucket.total is None and bucket.energy == {} for bucket in gaps)
    assert series.missing_intervals == 3 and series.energy[F1] == 11.0 - 0.75

    figure = measurements.measurement_figure(series)
    bars = {trace.name: trace for trace in figure.data}
    assert "2025-03-03 10:00" not in bars[F1].x and 0 not in bars[F1].y
    assert len(bars[F1].x) == 44 - 3
    assert list(bars["Senza dati"].x) == [bucket.x for bucket in gaps]


def test_intervals_not_due_yet_are_not_missing():
    day = datetime.date(2025, 3, 3)
    rows = [row for row in quarter_hours(day, day) if row[0] < timestamp(2025, 3, 3, 12, 0)]
    series = measurements.aggregate(rows, day, day, measurements.HOURLY, 900, timestamp(2025, 3, 3, 12, 0))
    assert series.expected == 48 and series.missing_intervals == 0
    assert not series.missing_buckets
    assert series.buckets[12].intervals == 0 and not series.buckets[12].missing


def test_hourly_aggregation_on_the_25_hour_day():
    day = datetime.date(2025, 10, 26)
    rows = hourly_groups(quarter_hours(day, day))
    series = measurements.aggregate(rows, day, day, measurements.HOURLY, 900, FAR_FUTURE)
    assert len(series.buckets) == 25
    assert [bucket.x for bucket in series.buckets[2:4]] == ["2025-10-26 02:00"] * 2
    assert series.buckets[2].label.endswith("02:00–03:00 (ora legale)")
    assert series.buckets[3].label.endswith("02:00–03:00 (ora solare)")
    assert all(bucket.intervals == bucket.expected == 4 for bucket in series.buckets)
    assert series.energy[F3] == 25.0
    # The two 02:00 share an x: each bar takes half of the slot instead of stacking.
    bars = measurements.measurement_figure(series).data[2]
    assert list(bars.width[1:5]) == [3600000 * 0.85, 3600000 * 0.425, 3600000 * 0.425, 3600000 * 0.85]
    assert list(bars.offset[1:5]) == [0, 0, 1800000, 0]


def test_hourly_aggregation_from_raw_and_grouped_rows_agree():
    first, last = datetime.date(2025, 3, 3), datetime.date(2025, 3, 9)
    raw = quarter_hours(first, last)
    from_raw = measurements.aggregate(raw, first, last, measurements.HOURLY, 900, FAR_FUTURE)
    from_groups = measurements.aggregate(hourly_groups(raw), first, last, measurements.HOURLY, 900, FAR_FUTURE)
    assert len(from_raw.buckets) == 7 * 24
    assert [(b.x, b.band, b.energy) for b in from_raw.buckets] == \
        [(b.x, b.band, b.energy) for b in from_groups.buckets]
    # Monday to Friday 11 hours of F1, Saturday only F2 and F3, Sunday only F3.
    assert from_raw.energy == {F1: 5 * 11.0, F2: 5 * 5.0 + 16.0, F3: 5 * 8.0 + 8.0 + 24.0}


def test_daily_aggregation_counts_23_and_25_hour_days():
    first, last = datetime.date(2025, 3, 29), datetime.date(2025, 3, 31)
    series = measurements.aggregate(hourly_groups(quarter_hours(first, last)), first, last,
                              measurements.DAILY, 900, FAR_FUTURE)
    assert [(b.x, b.intervals, b.expected) for b in series.buckets] == [
        ("2025-03-29", 96, 96), ("2025-03-30", 92, 92), ("2025-03-31", 96, 96)]
    saturday, sunday, monday = series.buckets
    assert saturday.energy == {F1: 0.0, F2: 16.0, F3: 8.0}
    assert sunday.energy == {F1: 0.0, F2: 0.0, F3: 23.0}
    assert monday.energy == {F1: 11.0, F2: 5.0, F3: 8.0}
    assert monday.label == "lunedì 31 marzo 2025"

    autumn = datetime.date(2025, 10, 26)
    series = measurements.aggregate(hourly_groups(quarter_hours(autumn, autumn)), autumn, autumn,
                              measurements.DAILY, 900, FAR_FUTURE)
    assert (series.buckets[0].intervals, series.buckets[0].total) == (100, 25.0)


def test_monthly_aggregation_marks_partial_and_missing_months():
    first, last = datetime.date(2024, 1, 1), datetime.date(2025, 12, 31)
    rows = hourly_groups(quarter_hours(datetime.date(2024, 2, 11), datetime.date(2024, 4, 30)))
    series = measurements.aggregate(rows, first, last, measurements.MONTHLY, 900, FAR_FUTURE)
    assert len(series.buckets) == 24
    january, february, march = series.buckets[:3]
    assert january.missing and january.x == "2024-01-01" and january.label == "gennaio 2024"
    assert february.partial and (february.intervals, february.expected) == (19 * 96, 29 * 96)
    assert march.intervals == march.expected == 31 * 96 - 4  # the 23-hour day
    assert march.total == pytest.approx((31 * 96 - 4) * 0.25)
    assert all(bucket.missing for bucket in series.buckets[4:])
    assert series.total == pytest.approx(sum(row[1] for row in rows))

    figure = measurements.measurement_figure(series)
    bars = {trace.name: trace for trace in figure.data}
    assert list(bars[F3].x) == ["2024-02-01", "2024-03-01", "2024-04-01"]
    assert len(bars["Senza dati"].x) == 21
    assert "Dati parziali: 1824 intervalli su 2784" in bars[F1].hovertext[0]


# --- Figures -----------------------------------------------------------------------------

def test_measurement_figure_is_italian_and_stacked():
    first, last = datetime.date(2025, 3, 1), datetime.date(2025, 3, 31)
    series = measurements.aggregate(hourly_groups(quarter_hours(first, last)), first, last,
                              measurements.DAILY, 900, FAR_FUTURE)
    figure = measurements.measurement_figure(series)
    assert isinstance(figure, go.Figure)
    assert figure.layout.separators == ",."
    assert figure.layout.barmode == "stack"
    assert [trace.name for trace in figure.data] == [F1, F2, F3, "Senza dati"]
    assert not figure.data[3].showlegend  # nothing missing
    assert "%{y:,.1f} kWh" in figure.data[0].hovertemplate
    assert figure.data[0].hovertext[0].startswith("<br>Totale: 24,0 kWh")
    assert figure.data[0].customdata[0] == "sabato 1 marzo 2025"
    assert list(figure.layout.xaxis.range) == ["2025-03-01 00:00", "2025-04-01 00:00"]
    data = json.loads(figure.to_json())
    assert data["layout"]["separators"] == ",."


def test_measurement_figure_without_data_says_so():
    day = datetime.date(2025, 3, 3)
    series = measurements.aggregate([], day, day, measurements.QUARTER_HOUR, 900, FAR_FUTURE)
    figure = measurements.measurement_figure(series)
    assert figure.layout.annotations[0].text == "Nessuna misura nel periodo scelto"
    assert len(figure.data[3].x) == 96


def billed_rows():
    """Monthly electricity periods of 2024 and 2025, bands and power included."""
    rows = []
    for year in (2024, 2025):
        for month in range(1, 13):
            start = datetime.date(year, month, 1)
            end = timebands.next_month(start) - datetime.timedelta(days=1)
            f1 = 100.0 * month + (year - 2024) * 10
            rows.append((start, end, f1, 50.0, 25.0, f1 + 75.0, 3.0 + month / 10, "kWh"))
    return rows


def test_billed_year_with_the_same_months_of_the_previous_year():
    billed = consumption.billed_year(billed_rows(), 2025)
    assert consumption.billed_years(billed_rows()) == [2025, 2024]
    assert [period.label for period in billed.periods][:3] == ["gen", "feb", "mar"]
    january = billed.periods[0]
    assert (january.total, january.previous_total) == (185.0, 175.0)
    assert billed.total == sum(100.0 * month + 10 + 75 for month in range(1, 13))
    assert billed.band_total(F2) == 600.0
    assert billed.max_power == 4.2
    assert billed.compared == (billed.total, billed.total - 120.0)
    assert billed.change_label == "+1,4 %"  # 8.820 against 8.700
    assert billed.decimals == 0

    first_year = consumption.billed_year(billed_rows(), 2024)
    assert first_year.compared is None and first_year.change_label == ""


def test_period_labels():
    assert consumption.period_label(datetime.date(2025, 1, 1), datetime.date(2025, 1, 31)) == "gen"
    assert consumption.period_label(datetime.date(2025, 1, 1), datetime.date(2025, 2, 28)) == "gen–feb"
    assert consumption.period_label(datetime.date(2025, 1, 15), datetime.date(2025, 2, 14)) == "15/01–14/02"


def test_bimonthly_periods_compare_with_the_months_they_cover():
    rows = [
        (datetime.date(2024, 1, 1), datetime.date(2024, 1, 31), None, None, None, 10.0, None, "Smc"),
        (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29), None, None, None, 20.0, None, "Smc"),
        (datetime.date(2025, 1, 1), datetime.date(2025, 2, 28), None, None, None, 33.5, None, "Smc"),
    ]
    billed = consumption.billed_year(rows, 2025)
    assert billed.periods[0].label == "gen–feb"
    assert billed.periods[0].previous_total == 30.0
    assert (billed.unit, billed.has_bands, billed.has_power, billed.decimals) == ("Smc", False, False, 1)
    assert billed.change_label == "+11,7 %"


def test_consumption_figure_of_electricity_and_of_gas():
    figure = consumption.consumption_figure(consumption.billed_year(billed_rows(), 2025))
    names = [trace.name for trace in figure.data]
    assert names == [F1, F2, F3, "2024 (stessi mesi)", "Potenza massima"]
    assert list(figure.data[0].x[:2]) == ["gen", "feb"]
    assert list(figure.data[0].y[:2]) == [110.0, 210.0]
    assert figure.data[4].yaxis == "y2"  # the power row below
    assert figure.layout.separators == ",."
    assert figure.layout.xaxis.type == "category"

    gas = [(start, end, None, None, None, total, None, "Smc")
           for start, end, _, _, _, total, _, _ in billed_rows()]
    figure = consumption.consumption_figure(consumption.billed_year(gas, 2025))
    assert [trace.name for trace in figure.data] == ["Energia 2025", "2024 (stessi mesi)"]
    assert "Smc" in figure.data[0].hovertemplate


# --- CSV -----------------------------------------------------------------------------

def test_measurement_csv_over_the_night_summer_time_ends():
    start = timestamp(2025, 10, 26, 1, 0)
    rows = [(moment, 0.25, 1, 1.0) for moment in range(start, start + 4 * 3600, 900)]
    rows[5] = (rows[5][0], 0.125, 1, None)
    text = "".join(measurements.measurement_csv(iter(rows), batch=3))
    lines = text.split("\r\n")
    assert lines[0] == "\ufeffData e ora inizio;Fuso orario;Fascia;Energia attiva (kWh);Potenza (kW)"
    assert lines[1:] == [
        "26/10/2025 01:00;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 01:15;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 01:30;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 01:45;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 02:00;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 02:15;UTC+02:00;F3;0,125;",
        "26/10/2025 02:30;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 02:45;UTC+02:00;F3;0,250;1,000",
        "26/10/2025 02:00;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 02:15;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 02:30;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 02:45;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 03:00;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 03:15;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 03:30;UTC+01:00;F3;0,250;1,000",
        "26/10/2025 03:45;UTC+01:00;F3;0,250;1,000",
        "",
    ]


def test_measurement_csv_skips_the_hour_summer_time_removes_and_is_chunked():
    day = datetime.date(2025, 3, 31)  # a Monday, after the change
    rows = quarter_hours(datetime.date(2025, 3, 30), day)
    chunks = list(measurements.measurement_csv(iter(rows), batch=50))
    assert len(chunks) == 1 + -(-len(rows) // 50)
    lines = "".join(chunks).split("\r\n")
    times = [line.split(";")[0] for line in lines[1:-1]]
    assert len(times) == 92 + 96
    assert times[7:9] == ["30/03/2025 01:45", "30/03/2025 03:00"]
    assert lines[1 + 92 + 32] == "31/03/2025 08:00;UTC+02:00;F1;0,250;1,000"


def test_consumption_csv_has_one_row_per_period():
    lines = "".join(consumption.consumption_csv(consumption.billed_year(billed_rows(), 2025))).split("\r\n")
    assert lines[0] == ("\ufeffDal;Al;Energia F1 (kWh);Energia F2 (kWh);Energia F3 (kWh);"
                        "Energia totale (kWh);Potenza massima (kW)")
    assert lines[1] == "01/01/2025;31/01/2025;110;50;25;185;3,1"
    assert len(lines) == 1 + 12 + 1


@pytest.mark.parametrize("figure", [
    lambda: measurements.measurement_figure_data(measurements.aggregate(
        hourly_groups(quarter_hours(datetime.date(2025, 3, 1), datetime.date(2025, 3, 31))),
        datetime.date(2025, 3, 1), datetime.date(2025, 3, 31), measurements.DAILY, 900, FAR_FUTURE)),
    lambda: measurements.measurement_figure_data(measurements.aggregate(
        quarter_hours(datetime.date(2025, 10, 26), datetime.date(2025, 10, 26)),
        datetime.date(2025, 10, 26), datetime.date(2025, 10, 26), measurements.QUARTER_HOUR, 900,
        FAR_FUTURE)),
    lambda: measurements.measurement_figure_data(measurements.aggregate(
        [], datetime.date(2025, 3, 1), datetime.date(2025, 3, 1), measurements.QUARTER_HOUR, 900,
        FAR_FUTURE)),
    lambda: consumption.consumption_figure_data(consumption.billed_year(billed_rows(), 2025)),
    lambda: consumption.consumption_figure_data(consumption.billed_year(billed_rows(), 2024)),
    lambda: consumption.consumption_figure_data(consumption.billed_year(
        [(datetime.date(2025, 1, 1), datetime.date(2025, 2, 28), None, None, None, 33.5, None, "Smc")],
        2025)),
])
def test_figure_data_is_exactly_what_plotly_would_send(figure):
    """The pages send plain dicts (plotly.py's objects cost tens of milliseconds per
    chart): plotly validates them and serialises them to the very same JSON."""
    data = figure()
    sent = json.loads(charts.figure_json(data))
    assert json.loads(go.Figure(data).to_json()) == sent
    assert sent["layout"]["template"] == json.loads(
        go.Figure(layout=dict(template="none")).to_json())["layout"]["template"]
