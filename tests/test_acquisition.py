"""Acquisition: the export file for billing, exactly once, and the in-process schedule."""
import csv
import datetime
import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from portal import acquisition
import models
from conftest import make_app
from models import AcquisitionRun, SelfReading

HEADER = ["supply_point_code", "pdr", "reading_date", "meter_reading", "corrector_reading",
          "submitted_at", "channel", "operator", "photo"]


@pytest.fixture
def export_dir(app):
    return Path(app.config["EXPORT_DIR"])


@pytest.fixture
def points(factory):
    person = factory.customer(code="654321")
    with_corrector = factory.supply_point(person, "gas", code="PR002874", pdr_pod="03340009749021",
                                          has_corrector=True)
    without = factory.supply_point(person, "gas", code="PR004411", pdr_pod="02260853244959")
    return with_corrector, without


def add_pending(point, count, first=datetime.date(2024, 1, 1), meter=1000):
    rows = [dict(supply_point=point, reading_date=first + datetime.timedelta(days=index),
                 meter_reading=meter + index,
                 corrector_reading=(500 + index) if point.has_corrector else None)
            for index in range(count)]
    SelfReading.insert_many(rows).execute()


def exported_rows(directory):
    """Every data row of every export file, as dicts."""
    rows = []
    for path in sorted(directory.glob("readings-*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle, delimiter=";"))
    return rows


def test_export_file_follows_data_exchange_and_marks_acquisita(app, export_dir, points):
    with_corrector, without = points
    # 10:05 UTC in July is 12:05 in Rome.
    SelfReading.create(supply_point=with_corrector, reading_date=datetime.date(2015, 7, 15),
                       meter_reading=45000, corrector_reading=1,
                       submitted_at=datetime.datetime(2015, 7, 15, 10, 5))
    SelfReading.create(supply_point=without, reading_date=datetime.date(2015, 2, 15),
                       meter_reading=123, submitted_at=datetime.datetime(2015, 2, 15, 23, 30))
    already = SelfReading.create(supply_point=without, reading_date=datetime.date(2015, 1, 15),
                                 meter_reading=100, status=SelfReading.ACQUIRED)

    run = acquisition.acquire(export_dir, trigger="command")

    assert run.reading_count == 2 and run.trigger == "command" and run.finished_at
    path = export_dir / run.file_path
    assert path.parent == export_dir
    assert path.name.startswith("readings-") and path.name.endswith(f"-{run.id}.csv")
    raw = path.read_bytes()
    assert raw.decode("utf-8").splitlines() == [
        "supply_point_code;pdr;reading_date;meter_reading;corrector_reading;submitted_at;"
        "channel;operator;photo",
        "PR002874;03340009749021;2015-07-15;45000;1;2015-07-15 12:05;portale;;",
        # 23:30 UTC on 15/02 is already 00:30 of the 16th in Rome.
        "PR004411;02260853244959;2015-02-15;123;;2015-02-16 00:30;portale;;",
    ]
    readings = SelfReading.select().where(SelfReading.id != already.id)
    assert {(reading.status, reading.acquisition_run_id) for reading in readings} == {
        (SelfReading.ACQUIRED, run.id)}
    assert all(reading.acquired_at is not None for reading in readings)
    assert SelfReading.get_by_id(already.id).acquisition_run_id is None
    assert not list(export_dir.glob(".*.partial"))


def test_nothing_pending_writes_nothing(app, export_dir, points, caplog):
    caplog.set_level(logging.INFO, logger="area_clienti.acquisition")
    assert acquisition.acquire(export_dir) is None
    assert AcquisitionRun.select().count() == 0
    assert [path.name for path in export_dir.iterdir()] == []
    assert "nothing pending" in caplog.text
    add_pending(points[0], 3)
    assert acquisition.acquire(export_dir) is not None
    assert acquisition.acquire(export_dir) is None
    assert len(list(export_dir.glob("readings-*.csv"))) == 1
    assert AcquisitionRun.select().count() == 1


def test_each_run_is_logged(app, export_dir, points, caplog):
    caplog.set_level(logging.INFO, logger="area_clienti.acquisition")
    add_pending(points[0], 2)
    run = acquisition.acquire(export_dir, trigger="operator")
    assert f"acquisition run {run.id} (operator): 2 readings exported to" in caplog.text


def test_a_failed_run_leaves_no_file_and_the_readings_pending(app, export_dir, points, monkeypatch):
    add_pending(points[0], 4)
    real_write = acquisition._write_export

    def write_then_fail(path, readings):
        real_write(path, readings)
        raise OSError("disk full")

    monkeypatch.setattr(acquisition, "_write_export", write_then_fail)
    with pytest.raises(OSError):
        acquisition.acquire(export_dir)
    assert list(export_dir.glob("readings-*")) == []
    assert SelfReading.select().where(SelfReading.status == SelfReading.PENDING).count() == 4
    assert AcquisitionRun.select().count() == 0
    monkeypatch.setattr(acquisition, "_write_export", real_write)
    assert acquisition.acquire(export_dir).reading_count == 4


def test_the_file_of_a_run_that_never_committed_is_set_aside(app, export_dir, points):
    """A crash between the rename and the commit leaves a file no run owns: its
    readings are still pending, so billing must not get that file as well."""
    add_pending(points[0], 2)
    export_dir.mkdir(parents=True, exist_ok=True)
    orphan = export_dir / "readings-20250101-000000-1.csv"
    orphan.write_text(";".join(HEADER) + "\r\n")
    (export_dir / ".readings-20250101-000000-1.partial").write_text("half")
    run = acquisition.acquire(export_dir)
    assert not orphan.exists()
    assert (export_dir / (orphan.name + ".orphan")).exists()
    assert not list(export_dir.glob(".*.partial"))
    assert [path.name for path in export_dir.glob("readings-*.csv")] == [run.file_path]
    assert len(exported_rows(export_dir)) == 2


def test_overlapping_runs_wait_for_each_other(app, export_dir, points, monkeypatch):
    """The second run starts while the first is writing its file inside its
    transaction: it waits, then finds nothing pending."""
    add_pending(points[0], 50)
    real_write = acquisition._write_export
    writing = threading.Event()

    def slow_write(path, readings):
        writing.set()
        time.sleep(0.5)
        real_write(path, readings)

    monkeypatch.setattr(acquisition, "_write_export", slow_write)
    results = {}

    def run(name):
        with models.db.connection_context():
            results[name] = acquisition.acquire(export_dir, trigger=name)

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert writing.wait(5)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    assert results["first"].reading_count == 50
    assert results["second"] is None
    assert len(exported_rows(export_dir)) == 50


def test_many_overlapping_runs_export_each_reading_once(app, export_dir, points):
    """Rounds of four simultaneous runs while readings keep arriving."""
    with_corrector, without = points
    day = datetime.date(2020, 1, 1)
    created = 0
    for round_number in range(8):
        barrier = threading.Barrier(5)
        errors = []

        def run():
            try:
                with models.db.connection_context():
                    barrier.wait()
                    acquisition.acquire(export_dir)
            except Exception as error:  # reported below, with the round
                errors.append(error)

        def submit(first_day):
            with models.db.connection_context():
                barrier.wait()
                for offset in range(20):
                    SelfReading.create(supply_point=without, meter_reading=offset,
                                       reading_date=first_day + datetime.timedelta(days=offset))

        add_pending(with_corrector, 10, first=day)
        threads = [threading.Thread(target=run) for _ in range(4)]
        threads.append(threading.Thread(target=submit, args=(day,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, (round_number, errors)
        created += 30
        day += datetime.timedelta(days=30)
    acquisition.acquire(export_dir)  # whatever arrived after the last runs

    rows = exported_rows(export_dir)
    keys = [(row["supply_point_code"], row["reading_date"]) for row in rows]
    assert len(keys) == len(set(keys)) == created
    assert SelfReading.select().where(SelfReading.status == SelfReading.PENDING).count() == 0
    total = sum(run.reading_count for run in AcquisitionRun.select())
    assert total == created


def test_two_acquire_commands_in_separate_processes(tmp_path, app, points):
    """Two real `flask readings acquire` processes on the same database."""
    add_pending(points[0], 400)
    add_pending(points[1], 400)
    export_dir = tmp_path / "both"
    environment = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
                   "SECRET_KEY": "test", "ACQUISITION_INTERVAL": "0",
                   "EXPORT_DIR": str(export_dir)}
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "flask", "--app", "app", "readings", "acquire"]
    processes = [subprocess.Popen(command, cwd=root, env=environment, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    # Serialised: whichever starts second finds nothing left.
    said = sorted(stdout.strip().split(":")[0] for stdout, _ in outputs)
    assert said == ["Acquisite 800 letture", "Nessuna lettura da acquisire"]
    rows = exported_rows(export_dir)
    keys = [(row["supply_point_code"], row["reading_date"]) for row in rows]
    assert len(keys) == len(set(keys)) == 800


def test_cli_acquire(runner, app, export_dir, points, tmp_path):
    add_pending(points[0], 2)
    result = runner.invoke(args=["readings", "acquire"])
    assert result.exit_code == 0, result.output
    assert "Acquisite 2 letture" in result.output
    assert len(exported_rows(export_dir)) == 2
    result = runner.invoke(args=["readings", "acquire"])
    assert "Nessuna lettura da acquisire: nessun file scritto." in result.output
    add_pending(points[1], 1, first=datetime.date(2025, 1, 1))
    elsewhere = tmp_path / "elsewhere"
    result = runner.invoke(args=["readings", "acquire", "--export-dir", str(elsewhere)])
    assert "Acquisite 1 letture" in result.output
    assert len(exported_rows(elsewhere)) == 1


# --- The schedule ---------------------------------------------------------------------

def test_schedule_is_off_under_tests_and_with_interval_zero(tmp_path, app):
    assert "acquisition_scheduler" not in app.extensions
    models.db.close()
    (tmp_path / "off").mkdir()
    off = make_app(tmp_path / "off", TESTING=False, ACQUISITION_INTERVAL=0)
    assert "acquisition_scheduler" not in off.extensions


def test_schedule_starts_with_the_first_request_once(tmp_path):
    (tmp_path / "on").mkdir()
    served = make_app(tmp_path / "on", TESTING=False, ACQUISITION_INTERVAL=30)
    scheduler = served.extensions["acquisition_scheduler"]
    try:
        assert scheduler.thread is None  # creating the app (or a CLI command) starts nothing
        client = served.test_client()
        client.get("/login")
        client.get("/login")
        assert scheduler.thread.is_alive()
        threads = [thread for thread in threading.enumerate() if thread.name == "acquisition"]
        assert threads == [scheduler.thread]
    finally:
        scheduler.stop()
        scheduler.thread.join(5)
        models.db.close()
    assert not scheduler.thread.is_alive()


def test_schedule_runs_once_per_interval_across_workers(app, export_dir, points):
    add_pending(points[0], 3)
    worker_one = acquisition.Scheduler(app, 30)
    worker_two = acquisition.Scheduler(app, 30)
    assert worker_one.tick() == "acquired"
    add_pending(points[1], 2, first=datetime.date(2025, 1, 1))
    # Another worker's thread ticks a minute later: the interval has not passed.
    assert worker_two.tick() == "not-due"
    assert worker_one.tick() == "not-due"
    assert SelfReading.select().where(SelfReading.status == SelfReading.PENDING).count() == 2
    assert AcquisitionRun.get().trigger == "schedule"
    # Thirty minutes later whichever worker ticks first runs it.
    (export_dir / acquisition.LOCK_FILE).write_text(f"{time.time() - 30 * 60:.0f}")
    assert worker_two.tick() == "acquired"
    (export_dir / acquisition.LOCK_FILE).write_text(f"{time.time() - 30 * 60:.0f}")
    assert worker_one.tick() == "empty"
    assert len(list(export_dir.glob("readings-*.csv"))) == 2


def test_schedule_skips_while_another_process_holds_the_lock(app, export_dir, points):
    add_pending(points[0], 3)
    export_dir.mkdir(parents=True, exist_ok=True)
    with open(export_dir / acquisition.LOCK_FILE, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert acquisition.Scheduler(app, 30).tick() == "busy"
        assert SelfReading.select().where(SelfReading.status == SelfReading.PENDING).count() == 3
    assert acquisition.Scheduler(app, 30).tick() == "acquired"


def test_the_schedule_thread_runs_acquisitions(app, export_dir, points):
    add_pending(points[0], 3)
    scheduler = acquisition.Scheduler(app, 1, tick_seconds=0.05)
    scheduler.ensure_started()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not list(export_dir.glob("readings-*.csv")):
            time.sleep(0.05)
    finally:
        scheduler.stop()
        scheduler.thread.join(5)
    assert len(exported_rows(export_dir)) == 3
