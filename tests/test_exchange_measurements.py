"""Measurements: Rome local time across the DST changes, large files with flat
memory, progress bar, and a portal that keeps writing while a file is checked."""
import datetime
import tracemalloc

import pytest

from portal.exchange import importer, values
import models
from models import Measurement, SupplyPoint
from test_exchange import (  # noqa: F401 (samples is a fixture)
    import_ok,
    load_samples,
    read_sample,
    report_lines,
    run_import,
    samples,
    write_csv,
)

UTC = datetime.timezone.utc


def utc_epoch(*parts):
    return int(datetime.datetime(*parts, tzinfo=UTC).timestamp())


def timestamps_of_local_day(day):
    """Stored timestamps of the sample point whose Rome-time date is `day`."""
    rows = Measurement.select(Measurement.timestamp).order_by(Measurement.timestamp).tuples()
    return [epoch for epoch, in rows
            if datetime.datetime.fromtimestamp(epoch, models.ROME).date() == day]


@pytest.fixture
def measured(app, runner, samples):
    load_samples(runner, samples, "measurements")
    return samples


def test_autumn_change_day_has_100_quarter_hours_in_order(runner, measured):
    import_ok(runner, "measurements", measured / "measurements.csv")
    autumn = timestamps_of_local_day(datetime.date(2024, 10, 27))
    assert len(autumn) == 100
    assert autumn[0] == utc_epoch(2024, 10, 26, 22, 0)  # 00:00 summer time
    assert all(later - earlier == 900 for earlier, later in zip(autumn, autumn[1:]))
    # The file says 02:00 twice: first summer time (00:00 UTC), then winter (01:00 UTC).
    assert autumn[8] == utc_epoch(2024, 10, 27, 0, 0) and autumn[12] == utc_epoch(2024, 10, 27, 1, 0)
    assert autumn[-1] == utc_epoch(2024, 10, 27, 22, 45)  # 23:45 winter time


def test_spring_change_day_has_92_quarter_hours(runner, measured):
    import_ok(runner, "measurements", measured / "measurements.csv")
    spring = timestamps_of_local_day(datetime.date(2024, 3, 31))
    assert len(spring) == 92
    assert spring[0] == utc_epoch(2024, 3, 30, 23, 0)
    assert all(later - earlier == 900 for earlier, later in zip(spring, spring[1:]))
    assert spring[-1] == utc_epoch(2024, 3, 31, 21, 45)  # 23:45 summer time


def test_repeated_hour_is_resolved_per_supply_point_by_order(app, runner, measured):
    header = ["supply_point_code", "timestamp", "active_energy_kwh"]
    rows = []
    for occurrence, energy in (("first", "1"), ("second", "2")):
        for code in ("PR100102", "PR100105"):
            rows.append([code, "2024-10-27 02:00", energy if code == "PR100102" else f"1{energy}"])
    import_ok(runner, "measurements", write_csv(measured / "measurements.csv", header, rows))
    stored = {(point, epoch): energy for point, epoch, energy in
              Measurement.select(SupplyPoint.code, Measurement.timestamp, Measurement.active_energy_kwh)
              .join(SupplyPoint).tuples()}
    summer, winter = utc_epoch(2024, 10, 27, 0, 0), utc_epoch(2024, 10, 27, 1, 0)
    assert stored == {("PR100102", summer): 1, ("PR100102", winter): 2,
                      ("PR100105", summer): 11, ("PR100105", winter): 12}


def test_hourly_file_lists_the_repeated_hour_twice(app, runner, measured):
    rows = [["PR100102", f"2024-10-27 {hour:02d}:00", "0,5"] for hour in (0, 1, 2, 2, 3)]
    import_ok(runner, "measurements",
              write_csv(measured / "measurements.csv",
                        ["supply_point_code", "timestamp", "active_energy_kwh"], rows))
    epochs = [epoch for epoch, in Measurement.select(Measurement.timestamp)
              .order_by(Measurement.timestamp).tuples()]
    assert epochs == [utc_epoch(2024, 10, 26, 22), utc_epoch(2024, 10, 26, 23),
                      utc_epoch(2024, 10, 27, 0), utc_epoch(2024, 10, 27, 1),
                      utc_epoch(2024, 10, 27, 2)]


def test_a_third_0200_is_a_repeated_key(app, runner, measured):
    rows = [["PR100102", "2024-10-27 02:00", "0,5"]] * 3
    result = run_import(runner, "measurements",
                        write_csv(measured / "measurements.csv",
                                  ["supply_point_code", "timestamp", "active_energy_kwh"], rows))
    assert result.exit_code == 1
    assert report_lines(result.output) == [
        ("4", "-", "same supply point and timestamp as line 3: a key may appear only once "
                   "in a file")]


def test_export_writes_the_lines_it_imported(app, runner, measured, tmp_path):
    import_ok(runner, "measurements", measured / "measurements.csv")
    assert runner.invoke(args=["export-all", str(tmp_path / "out")]).exit_code == 0
    _, rows = read_sample("measurements")
    exported = (tmp_path / "out" / "measurements.csv").read_text(encoding="utf-8").splitlines()
    assert exported[0] == "supply_point_code;timestamp;active_energy_kwh;power_kw"
    assert [line.split(";")[:2] for line in exported[1:]] == [row[:2] for row in rows]
    assert exported[1] == "PR100102;2024-03-31 00:00;0.055;0.22"


def test_local_time_parser_matches_zoneinfo_every_quarter_hour_of_two_years():
    clock = values.LocalTimeParser()
    instant = datetime.datetime(2023, 1, 1, tzinfo=UTC)
    while instant.year < 2025:
        local = instant.astimezone(models.ROME)
        assert clock.epoch(f"{local:%Y-%m-%d %H:%M}", "P") == int(instant.timestamp())
        instant += datetime.timedelta(minutes=15)
    assert clock.epoch("27/10/2024 03:00", "P") == utc_epoch(2024, 10, 27, 2)


def write_measurements(path, code, lines):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("supply_point_code;timestamp;active_energy_kwh;power_kw\n")
        start = int(datetime.datetime(2022, 1, 1, tzinfo=models.ROME).timestamp())
        for step in range(lines):
            local = datetime.datetime.fromtimestamp(start + 900 * step, models.ROME)
            handle.write(f"{code};{local:%Y-%m-%d %H:%M};0,{step % 1000:03d};1,5\n")
    return path


def peak_python_memory(kind, path):
    tracemalloc.start()
    try:
        report = importer.import_file(kind, path)
        return report, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_when_the_file_grows(app, runner, measured):
    small = write_measurements(measured / "small.csv", "PR100102", 8_000)
    large = write_measurements(measured / "large.csv", "PR100105", 60_000)
    with app.app_context():
        small_report, small_peak = peak_python_memory("measurements", small)
        large_report, large_peak = peak_python_memory("measurements", large)
    assert small_report.ok and large_report.ok
    assert large_report.counts.new == 60_000
    assert Measurement.select().count() == 68_000
    # Seven times the lines, the same batches and read buffers: the Python heap's
    # peak does not grow with the file (a list of all rows would need ~10 MB here).
    assert large_peak < small_peak * 1.1 + 64 * 1024, (small_peak, large_peak)
    assert large_peak < 2 * 1024 * 1024


def test_progress_bar_goes_to_stderr(app, runner, measured):
    result = runner.invoke(args=["import", "measurements", str(measured / "measurements.csv")])
    assert result.exit_code == 0
    assert "measurements.csv (measurements)" in result.stderr
    assert "imported 192 line(s)" in result.stdout


def test_portal_can_write_while_a_file_is_checked(app, runner, measured, monkeypatch):
    """The staging pass never holds the write lock of the portal's database."""
    writes = []
    original_flush = importer._Stager.flush

    def flush_then_write_elsewhere(stager):
        original_flush(stager)
        # Another connection, which gives up at once if it has to wait for a lock.
        other = models.open_database(app.config["DATABASE_URL"])
        try:
            other.connect()
            if isinstance(other, models.SqliteDatabase):
                other.execute_sql("PRAGMA busy_timeout = 0")
            else:
                other.execute_sql("SET lock_timeout = '10ms'")
            with other.atomic():  # BEGIN IMMEDIATE on SQLite: the write lock
                other.execute_sql("UPDATE customer SET phone = phone")
            writes.append(True)
        finally:
            other.close()

    monkeypatch.setattr(importer._Stager, "flush", flush_then_write_elsewhere)
    monkeypatch.setattr(importer, "BATCH_ROWS", 50)
    import_ok(runner, "measurements", measured / "measurements.csv")
    assert len(writes) >= 4


def test_repeated_keys_are_reported_alike_in_every_batch(app, runner, measured, monkeypatch):
    """Within a batch and across batches, once or three times: the same lines and
    messages on either engine (PostgreSQL stages batches through COPY, which has no
    ON CONFLICT: a batch with a repeat goes through the INSERT instead)."""
    monkeypatch.setattr(importer, "BATCH_ROWS", 50)
    header, rows = read_sample("measurements")
    # After the row at this index, a repeat of the row at that one.
    repeated = {60: 5, 61: 59, 140: 1, 141: 139}
    lines = []
    for index, row in enumerate(rows[:150]):
        lines.append(row)
        if index in repeated:
            lines.append(rows[repeated[index]])
    lines += [rows[20]] * 3
    result = run_import(runner, "measurements",
                        write_csv(measured / "measurements.csv", header, lines))
    assert result.exit_code == 1
    # Batches of 50 lines: 2-51, 52-101 (repeats of a line of the first batch and of
    # its own), 102-151 (the same), 152-158 (three repeats of one line of the first).
    message = "same supply point and timestamp as line {}: a key may appear only once in a file"
    assert report_lines(result.output) == [
        ("63", "-", message.format(7)),
        ("65", "-", message.format(61)),
        ("145", "-", message.format(3)),
        ("147", "-", message.format(143)),
        ("156", "-", message.format(22)),
        ("157", "-", message.format(22)),
        ("158", "-", message.format(22)),
    ]
    assert Measurement.select().count() == 0
