"""kill -9 while customers submit readings: every acknowledged reading survives."""
import http.client
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
from pathlib import Path

import pytest

import models
from conftest import PASSWORD, HttpSession, free_port, make_app
from portal.passwords import hash_password

ROOT = Path(__file__).resolve().parent.parent
KILLS = 30


def start_portal(tmp_path, port, database_url):
    environment = {**os.environ, "DATABASE_URL": database_url,
                   "SECRET_KEY": "crash-test", "FILES_DIR": str(tmp_path / "files"),
                   "OUTBOX_DIR": str(tmp_path / "outbox"), "EXPORT_DIR": str(tmp_path / "exports"),
                   "ACQUISITION_INTERVAL": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "--threads=4",
         "--call", "app:create_app"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if HttpSession(f"http://127.0.0.1:{port}").get("/login")[0] == 200:
                return process
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the portal did not start")


@pytest.mark.slow
def test_acknowledged_readings_survive_sigkill(tmp_path):
    # The schema on the database the subprocess will use (a SQLite file, or PostgreSQL,
    # where the kill tests that an acknowledged reading was committed, not buffered).
    database_url = make_app(tmp_path).config["DATABASE_URL"]
    customer = models.Customer.create(code="654321", name="ACQUE CHIARE S.R.L.",
                                      tax_code="01234560496", registered_at=models.utcnow(),
                                      password_hash=hash_password(PASSWORD))
    codes = [f"PR{number:06d}" for number in range(400)]
    for number, code in enumerate(codes):
        models.SupplyPoint.create(code=code, customer=customer, commodity="gas",
                                  pdr_pod=f"{33400097490000 + number:014d}", address="VIA X 1")
    models.ReadingWindow.create(start_at="2010-02-11 08:00:00", end_at="2099-02-14 22:00:00")
    models.db.close()

    acknowledged, remaining = set(), list(codes)
    rng = random.Random(20150215)
    for kill in range(KILLS):
        port = free_port()
        process = start_portal(tmp_path, port, database_url)
        session = HttpSession(f"http://127.0.0.1:{port}")
        assert session.login("654321")[0] == 303
        stop = threading.Event()

        def submit():
            while remaining and not stop.is_set():
                code = remaining[0]
                try:
                    status, _ = session.post("/autolettura", {"punto": code, "meter_reading": "1234"})
                except (urllib.error.URLError, http.client.HTTPException, OSError):
                    return  # killed mid-request (even mid-answer): not acknowledged
                if status == 303:
                    acknowledged.add(code)
                remaining.pop(0)

        submitter = threading.Thread(target=submit)
        submitter.start()
        time.sleep(rng.uniform(0.05, 0.5))
        process.kill()  # SIGKILL: no cleanup, no flush
        process.wait()
        stop.set()
        submitter.join()

        with models.db.connection_context():
            stored = {code for (code,) in models.db.execute_sql(
                "SELECT supply_point.code FROM self_reading JOIN supply_point "
                "ON supply_point.id = self_reading.supply_point_id")}
            assert acknowledged <= stored, f"lost after kill {kill}: {acknowledged - stored}"
            if isinstance(models.db.obj, models.SqliteDatabase):
                assert models.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(acknowledged) >= KILLS  # the test really submitted under fire
