"""Large measurement files are merged in short transactions, yet customers see a file
all at once or not at all; a failed or killed merge leaves the previous data."""
import datetime
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import peewee
import pytest

import models
from conftest import HttpSession, PASSWORD
from models import Measurement, MergeRun
from portal import measurements
from portal.exchange import batched, importer

ROOT = Path(__file__).resolve().parent.parent
START = int(datetime.datetime(2024, 1, 1, tzinfo=models.ROME).timestamp())
END = START + 366 * 86400


def write_file(path, codes, steps, energy, power=True):
    """`steps` quarter hours from 1 January 2024 for every point; energy(point index,
    step) in kWh."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("supply_point_code;timestamp;active_energy_kwh"
                     + (";power_kw\n" if power else "\n"))
        for index, code in enumerate(codes):
            for step in range(steps):
                local = datetime.datetime.fromtimestamp(START + 900 * step, models.ROME)
                handle.write(f"{code};{local:%Y-%m-%d %H:%M};{energy(index, step):.3f}"
                             + (";1,5\n" if power else "\n"))
    return path


def shown(points):
    """What the Misure page reads for each point: (intervals, total kWh)."""
    result = []
    for point in points:
        rows = list(measurements.fetch(measurements.interval_rows(point.id, START, END)))
        result.append((len(rows), round(sum(row[1] for row in rows), 3)))
    return result


@pytest.fixture
def points(factory):
    customer = factory.customer()
    return [factory.supply_point(customer, "electricity") for _ in range(3)]


def run(app, path):
    with app.app_context():
        return importer.import_file("measurements", path)


def test_a_file_merged_in_batches_shows_all_at_once(app, points, tmp_path, monkeypatch):
    codes = [point.code for point in points]
    first = run(app, write_file(tmp_path / "first.csv", codes, 200, lambda index, step: 0.1))
    assert first.ok and first.counts.new == 600
    before = shown(points)
    assert before == [(200, 20.0)] * 3

    monkeypatch.setattr(batched, "MERGE_ROWS", 70)
    seen = []
    monkeypatch.setattr(batched, "_after_batch", lambda run: seen.append(shown(points)))
    # Every value of the first half changes; the second half is the same; 100 new.
    second = run(app, write_file(tmp_path / "second.csv", codes, 300,
                                 lambda index, step: 0.2 if step < 100 or step >= 200 else 0.1))
    assert second.ok, second.text()
    assert (second.counts.new, second.counts.changed, second.counts.unchanged) == (300, 300, 300)
    assert len(seen) == 13  # 900 lines, 70 at a time
    assert seen == [before] * len(seen)  # nothing of the file showed while it merged
    assert shown(points) == [(300, 50.0)] * 3
    # The replaced rows are gone; one run published.
    assert Measurement.select().count() == 900
    assert [run.state for run in MergeRun.select()] == ["published", "published"]
    assert "write lock held" in second.summary()


def test_a_failed_merge_leaves_the_previous_file_and_nothing_else(app, points, tmp_path,
                                                                 monkeypatch):
    codes = [point.code for point in points]
    assert run(app, write_file(tmp_path / "first.csv", codes, 200, lambda i, s: 0.1)).ok
    monkeypatch.setattr(batched, "MERGE_ROWS", 100)
    batches = []

    def fail_on_the_third(merge_run):
        batches.append(merge_run)
        if len(batches) == 3:
            raise peewee.OperationalError("disk I/O error")

    monkeypatch.setattr(batched, "_after_batch", fail_on_the_third)
    report = run(app, write_file(tmp_path / "second.csv", codes, 300, lambda i, s: 0.3))
    assert not report.ok and "nothing was kept" in report.text()
    assert shown(points) == [(200, 20.0)] * 3
    assert Measurement.select().count() == 600
    assert Measurement.select().where(Measurement.replaced_in.is_null(False)).count() == 0
    assert MergeRun.get_by_id(batches[0].id).state == MergeRun.ABANDONED


def test_a_merge_killed_midway_is_undone_by_the_next(app, points, tmp_path, monkeypatch):
    codes = [point.code for point in points]
    assert run(app, write_file(tmp_path / "first.csv", codes, 200, lambda i, s: 0.1)).ok
    monkeypatch.setattr(batched, "MERGE_ROWS", 100)

    class Killed(BaseException):
        """The process dies: no undo runs."""

    def killed(merge_run):
        raise Killed

    monkeypatch.setattr(batched, "_after_batch", killed)
    monkeypatch.setattr(batched, "_undo", lambda merge_run, timer: None)
    with pytest.raises(Killed):
        run(app, write_file(tmp_path / "second.csv", codes, 300, lambda i, s: 0.3))
    models.db.close()
    assert shown(points) == [(200, 20.0)] * 3  # half a file written, none of it shown
    assert Measurement.select().count() > 600

    monkeypatch.undo()
    third = run(app, write_file(tmp_path / "third.csv", codes[:1], 200, lambda i, s: 0.5))
    assert third.ok, third.text()
    assert shown(points) == [(200, 100.0), (200, 20.0), (200, 20.0)]
    assert Measurement.select().count() == 600
    assert [run.state for run in MergeRun.select().order_by(MergeRun.id)] == [
        "published", "abandoned", "published"]


def test_a_file_without_power_keeps_the_stored_power(app, points, tmp_path):
    codes = [points[0].code]
    assert run(app, write_file(tmp_path / "first.csv", codes, 10, lambda i, s: 0.1)).ok
    report = run(app, write_file(tmp_path / "second.csv", codes, 10, lambda i, s: 0.4,
                                 power=False))
    assert report.counts.changed == 10
    rows = list(measurements.fetch(measurements.interval_rows(points[0].id, START, END)))
    assert {(row[1], row[3]) for row in rows} == {(0.4, 1.5)}


# --- Customers keep writing during a large import --------------------------------------

IMPORT_LINES = int(os.environ.get("BATCHED_IMPORT_LINES", "300000"))


@pytest.mark.slow
def test_customers_submit_readings_throughout_a_large_import(live_server, live_app, factory,
                                                             tmp_path):
    """A measurement file of IMPORT_LINES lines (BATCHED_IMPORT_LINES=4200000 for the
    size of the fault-injection pass) imported by `flask import` in its own process
    while customers submit readings: every submission succeeds, and the importer
    never holds the write lock for as long as a second."""
    customer = factory.customer(code="654321")
    gas_points = [factory.supply_point(customer, "gas", expected_annual_consumption=None)
                  for _ in range(3000)]
    electricity = [factory.supply_point(customer, "electricity") for _ in range(120)]
    models.ReadingWindow.create(start_at="2010-02-11 08:00:00", end_at="2099-02-14 22:00:00")
    models.db.close()
    steps = max(1, IMPORT_LINES // len(electricity))
    path = write_file(tmp_path / "measurements.csv", [point.code for point in electricity],
                      steps, lambda index, step: (index + step) % 7 / 10)

    environment = {**os.environ, "FLASK_APP": "app", "SECRET_KEY": "x",
                   "DATABASE_URL": live_app.config["DATABASE_URL"],
                   "FILES_DIR": live_app.config["FILES_DIR"]}
    importing = subprocess.Popen([sys.executable, "-m", "flask", "import", "measurements",
                                  str(path), "--quiet"], cwd=ROOT, env=environment,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results, waits, remaining = [], [], list(gas_points)
    lock = threading.Lock()

    def customer_writes():
        session = HttpSession(live_server.url)
        assert session.login("654321", PASSWORD)[0] == 303
        assert session.get("/autolettura")[0] == 200  # the new session's CSRF token
        while importing.poll() is None:
            with lock:
                if not remaining:
                    return
                point = remaining.pop()
            started = time.monotonic()
            status, _ = session.post("/autolettura", {"punto": point.code, "meter_reading": "1234"})
            with lock:
                results.append((point.id, status))
                waits.append(time.monotonic() - started)
            time.sleep(0.02)

    writers = [threading.Thread(target=customer_writes) for _ in range(4)]
    for writer in writers:
        writer.start()
    output, errors = importing.communicate(timeout=3600)
    for writer in writers:
        writer.join(60)
    assert importing.returncode == 0, errors
    longest = float(re.search(r"write lock held ([\d.]+) s at most", output).group(1))
    waits.sort()
    print(f"\n{IMPORT_LINES} lines: {output.strip()}; {len(results)} readings, answered in "
          f"p50 {waits[len(waits) // 2]:.3f} s, p95 {waits[len(waits) * 95 // 100]:.3f} s, "
          f"max {waits[-1]:.3f} s, {sum(wait > 1 for wait in waits)} over 1 s")
    assert len(results) >= 10, "too few readings overlapped the import to prove anything"
    assert [status for _, status in results if status != 303] == []
    with live_app.app_context(), models.db.connection_context():
        stored = {reading.supply_point_id for reading in models.SelfReading.select()}
        assert stored == {point_id for point_id, _ in results}
        assert Measurement.select().where(Measurement.visible()).count() == steps * 120
    assert longest < 1.0


@pytest.mark.parametrize("power", [True, False], ids=["all columns", "without power"])
def test_a_changed_file_holds_the_lock_as_briefly_as_a_new_one(app, factory, tmp_path, power):
    """Changed rows are found by their key: a lookup through the index of replaced
    rows instead held the lock 3 s per batch of 5,000 lines."""
    customer = factory.customer()
    codes = [factory.supply_point(customer, "electricity").code for _ in range(4)]
    assert run(app, write_file(tmp_path / "first.csv", codes, 6000, lambda i, s: 0.1)).ok
    changed = run(app, write_file(tmp_path / "second.csv", codes, 6000,
                                  lambda i, s: 0.2 if s % 2 else 0.1, power=power))
    assert (changed.counts.changed, changed.counts.unchanged) == (12_000, 12_000)
    assert changed.longest_write < 0.5, changed.summary()
