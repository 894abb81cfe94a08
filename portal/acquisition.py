"""Acquisition of self-readings for the billing system: the pending readings go to an
export file and become "Acquisita" in the same transaction, exactly once.

How "exactly once" holds:
- one transaction per run: on SQLite it starts with BEGIN IMMEDIATE (the database's
  write lock), on PostgreSQL it takes a transaction-scoped advisory lock, so two runs
  never interleave, whatever process or host they come from;
- the readings are claimed by one conditional UPDATE (`status = 'Da acquisire'`), so a
  customer's conditional DELETE either removes a row before the run sees it or finds
  it "Acquisita" afterwards; the file lists exactly the rows that UPDATE claimed;
- the file is written under a temporary name, fsynced and renamed *before* the
  commit, and removed if the commit fails. A crash between rename and commit leaves a
  file whose run was never committed: the next run sets it aside as `.orphan` (its
  readings are still pending and go into the next file). When in doubt a reading is
  exported twice, never lost; billing keys readings on (supply_point_code,
  reading_date), so a repeat changes nothing there.

The in-process schedule (every ACQUISITION_INTERVAL minutes) starts lazily on the first
request, so CLI commands never start it; under several workers an exclusive lock file
in EXPORT_DIR lets one worker run at a time and records when the last run started, so
the interval holds across workers too.
"""
import csv
import logging
import os
import threading
import time
from pathlib import Path

from peewee import PostgresqlDatabase

from portal import payments
from portal.formatting import local_datetime
from models import AcquisitionRun, SelfReading, SupplyPoint, db, utcnow

try:
    import fcntl
except ImportError:  # not POSIX: only the transactional guarantee remains
    fcntl = None

log = logging.getLogger("area_clienti.acquisition")

COLUMNS = ("supply_point_code", "pdr", "reading_date", "meter_reading",
           "corrector_reading", "submitted_at", "channel", "operator", "photo")
# The channel of a reading the customer entered in the portal.
PORTAL_CHANNEL = "portale"
LOCK_FILE = ".acquisition.lock"
# Any constant will do: it only has to be the same for every process of the portal.
POSTGRES_LOCK_KEY = 7_420_150_215


class _NothingClaimed(Exception):
    """Every pending reading went away (deleted) between the check and the claim."""


def acquire(export_dir, trigger="command"):
    """Export the pending readings to a new file in `export_dir` and mark them
    "Acquisita"; return the AcquisitionRun, or None (writing nothing) when nothing
    is pending."""
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    path = None
    try:
        with db.atomic():
            _serialize_runs()
            if not SelfReading.select().where(SelfReading.status == SelfReading.PENDING).exists():
                log.info("acquisition (%s): nothing pending, no file written", trigger)
                return None
            _set_aside_orphans(export_dir)
            now = utcnow()
            run = AcquisitionRun.create(started_at=now, trigger=trigger)
            claimed = (SelfReading
                       .update(status=SelfReading.ACQUIRED, acquired_at=now, acquisition_run=run)
                       .where(SelfReading.status == SelfReading.PENDING)
                       .execute())
            if not claimed:
                raise _NothingClaimed
            readings = list(SelfReading
                            .select(SelfReading, SupplyPoint)
                            .join(SupplyPoint)
                            .where(SelfReading.acquisition_run == run)
                            .order_by(SupplyPoint.code, SelfReading.reading_date))
            name = f"readings-{local_datetime(now):%Y%m%d-%H%M%S}-{run.id}.csv"
            path = export_dir / name
            _write_export(path, readings)
            run.file_path = name
            run.reading_count = len(readings)
            run.finished_at = utcnow()
            run.save()
    except _NothingClaimed:
        log.info("acquisition (%s): nothing left to claim, no file written", trigger)
        return None
    except BaseException:
        # No commit, no file: the readings are still pending and the next run takes them.
        if path is not None and path.exists():
            path.unlink()
        log.exception("acquisition (%s) failed: nothing acquired", trigger)
        raise
    log.info("acquisition run %s (%s): %d readings exported to %s", run.id, trigger,
             run.reading_count, path)
    return run


def _serialize_runs():
    """One run at a time. SQLite: BEGIN IMMEDIATE already holds the write lock."""
    if isinstance(db.obj, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_LOCK_KEY,))


def _set_aside_orphans(export_dir):
    """Files of runs that never committed (a crash between rename and commit) must not
    reach billing: their readings are still pending and go into this run's file."""
    known = {run.file_path for run in AcquisitionRun.select(AcquisitionRun.file_path)
             .where(AcquisitionRun.file_path.is_null(False))}
    for leftover in export_dir.glob(".readings-*.partial"):
        leftover.unlink()
    for path in export_dir.glob("readings-*.csv"):
        if path.name not in known:
            path.rename(path.with_name(path.name + ".orphan"))
            log.warning("acquisition: %s belongs to no committed run, renamed to .orphan",
                        path.name)


def _write_export(path, readings):
    """The DATA-EXCHANGE.md export: `;`, UTF-8, a header, one line per reading; written
    to a temporary name, flushed to disk, then renamed into place."""
    temporary = path.with_name(f".{path.stem}.partial")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for reading in readings:
            writer.writerow([
                reading.supply_point.code,
                reading.supply_point.pdr_pod,
                reading.reading_date.isoformat(),
                reading.meter_reading,
                "" if reading.corrector_reading is None else reading.corrector_reading,
                local_datetime(reading.submitted_at).strftime("%Y-%m-%d %H:%M"),
                reading.channel or PORTAL_CHANNEL,
                reading.operator or "",
                # The photo's path under FILES_DIR: billing asks the portal's files for it.
                reading.photo_path or "",
            ])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory):
    """Make the rename itself durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def acquire_all(export_dir, trigger="command"):
    """Everything billing takes from the portal on one run: the pending self-readings
    and the direct-debit mandate requests not sent yet (new mandates, revocations), the
    same for the schedule and the operator's button. Returns (AcquisitionRun or None,
    (mandates path, count) or None): two files, each in its own transaction, so a
    failure of one never holds back the other."""
    run = acquire(export_dir, trigger=trigger)
    mandates = payments.export_mandates(export_dir)
    return run, mandates


# --- The in-process schedule ---------------------------------------------------------

class Scheduler:
    """Runs `acquire` every `interval` minutes from a daemon thread of this process."""

    def __init__(self, app, interval_minutes, tick_seconds=60):
        self.app = app
        self.interval = interval_minutes * 60
        self.tick_seconds = min(tick_seconds, self.interval)
        self.stopped = threading.Event()
        self._start_lock = threading.Lock()
        self._pid = None
        self.thread = None

    def ensure_started(self):
        """before_request hook: start the thread once per process (a forked worker
        has no thread of its parent's)."""
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self.thread = threading.Thread(target=self._loop, name="acquisition", daemon=True)
            self.thread.start()
            self._pid = os.getpid()
            log.info("acquisition schedule started in process %s: every %d minutes",
                     self._pid, self.interval // 60)

    def stop(self):
        self.stopped.set()

    def _loop(self):
        while not self.stopped.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:
                log.exception("scheduled acquisition failed; retrying at the next interval")

    def tick(self):
        """Run when due and no other process is running one. Returns what happened:
        "busy", "not-due", "empty" or "acquired"."""
        export_dir = Path(self.app.config["EXPORT_DIR"])
        export_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(export_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("scheduled acquisition skipped: another process is running one")
                    return "busy"
            last = os.read(descriptor, 64).decode("ascii", "replace").strip()
            last_started = float(last) if last.replace(".", "", 1).isdigit() else 0.0
            # Half a tick of slack: a worker that ticks a little early is still on time.
            if time.time() - last_started < self.interval - self.tick_seconds / 2:
                return "not-due"
            os.lseek(descriptor, 0, os.SEEK_SET)
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{time.time():.0f}".encode())
            os.fsync(descriptor)
            with self.app.app_context(), db.connection_context():
                run, _mandates = acquire_all(export_dir, trigger="schedule")
            return "empty" if run is None else "acquired"
        finally:
            os.close(descriptor)  # also releases the flock


def init_app(app):
    """Schedule acquisitions inside the serving process when ACQUISITION_INTERVAL > 0
    (never under tests). The thread starts with the first request, so `flask` commands
    other than the server never start it."""
    interval = app.config["ACQUISITION_INTERVAL"]
    if interval <= 0 or app.testing:
        return
    scheduler = Scheduler(app, interval, tick_seconds=app.config["ACQUISITION_TICK_SECONDS"])
    app.extensions["acquisition_scheduler"] = scheduler
    app.before_request(scheduler.ensure_started)
