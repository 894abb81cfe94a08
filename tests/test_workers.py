"""Several workers: the documented production command (gunicorn, 2 workers here) on a
temporary database. A session started on one worker is valid on the other, a CSRF
token too, an upload stored by one is downloaded from either, and the acquisition
schedule, running in both, exports once."""
import datetime
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import app as app_module
import models
from conftest import PASSWORD, HttpSession, free_port, make_app
from models import AcquisitionRun, ReadingWindow, SelfReading

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
ACCESS = re.compile(r"^<(\d+)> (\S+) (\S+) (\d{3})$")


def test_the_secret_key_of_a_racing_worker_is_the_first_one_written(tmp_path, monkeypatch):
    """Two workers started together without SECRET_KEY must not sign with two keys."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = make_app(tmp_path, SECRET_KEY=None).config["SECRET_KEY"]
    models.db.close()
    # The second worker checked before the first wrote, then writes its own candidate.
    monkeypatch.setattr(app_module.Path, "exists", lambda path: False)
    second = make_app(tmp_path, SECRET_KEY=None).config["SECRET_KEY"]
    monkeypatch.undo()
    assert second == first
    assert [path.name for path in tmp_path.glob(".secret_key*")] == []


def _wait_until_serving(url, process, deadline=30):
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        assert process.poll() is None, "gunicorn exited"
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not answer in time")


@pytest.fixture
def gunicorn(tmp_path, app, factory):
    """The portal under gunicorn with 2 workers; a customer with a gas point and two
    readings waiting for the acquisition."""
    customer = factory.customer(code="654321")
    point = factory.supply_point(customer, "gas")
    for day in ("2025-01-20", "2025-02-20"):
        SelfReading.create(supply_point=point, reading_date=day, meter_reading=100)
    ReadingWindow.create(start_at=datetime.datetime(2010, 1, 1), end_at=datetime.datetime(2099, 1, 1))
    models.db.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
                   "SECRET_KEY": "one-key-for-every-worker", "BASE_URL": url,
                   "FILES_DIR": app.config["FILES_DIR"], "EXPORT_DIR": app.config["EXPORT_DIR"],
                   "OUTBOX_DIR": app.config["OUTBOX_DIR"],
                   "ACQUISITION_INTERVAL": "1", "ACQUISITION_TICK_SECONDS": "1"}
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    with open(error_log, "w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "2",
             "--bind", f"127.0.0.1:{port}", "--access-logfile", str(access_log),
             "--access-logformat", "%(p)s %(m)s %(U)s %(s)s", "app:create_app()"],
            cwd=ROOT, env=environment, stdout=errors, stderr=errors)
    try:
        _wait_until_serving(url, process)
        yield dict(url=url, access_log=access_log, error_log=error_log, customer=customer,
                   point=point, export_dir=Path(app.config["EXPORT_DIR"]))
    finally:
        process.terminate()
        process.wait(15)


def _served(access_log, path_pattern):
    """{pid: [status, ...]} of the logged requests whose path matches."""
    served = {}
    for line in access_log.read_text().splitlines():
        match = ACCESS.match(line)
        if match and re.fullmatch(path_pattern, match.group(3)):
            served.setdefault(match.group(1), []).append(int(match.group(4)))
    return served


def _multipart(fields, files):
    boundary = "----area-clienti-test"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, content) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
                     + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
def test_two_workers_share_sessions_uploads_and_one_acquisition(gunicorn):
    session = HttpSession(gunicorn["url"])
    status, _ = session.login("654321", PASSWORD)
    assert status == 303

    # Every request opens a new connection: the kernel hands them to either worker.
    for _ in range(200):
        status, text = session.get("/home")
        assert status == 200 and "Benvenuto" in text
        if len(_served(gunicorn["access_log"], "/home")) == 2:
            break
    home = _served(gunicorn["access_log"], "/home")
    assert len(home) == 2, "both workers served the logged-in session"
    assert {status for statuses in home.values() for status in statuses} == {200}

    # A CSRF-protected POST with the token of a page either worker rendered.
    point = gunicorn["point"].code
    for _ in range(10):
        status, _ = session.get(f"/autolettura?punto={point}")
        assert status == 200
    status, _ = session.post("/autolettura", {"punto": point, "meter_reading": "150"})
    assert status == 303
    status, text = session.get(f"/autolettura?punto={point}")
    assert "salvata" in text

    # An upload stored by one worker is there for both.
    body, content_type = _multipart(
        {"csrf_token": session.token, "supply_point": point, "kind": "informazioni",
         "subject": "Foto del contatore", "message": "Allego la foto della lettura."},
        {"attachment": ("lettura.pdf", PDF)})
    request = urllib.request.Request(gunicorn["url"] + "/ticket/nuovo", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        response = session.opener.open(request, timeout=30)
    except urllib.error.HTTPError as redirect:  # the opener follows no redirect
        response = redirect
    ticket_url = response.headers["Location"]
    assert response.status == 303 and re.fullmatch(r"/ticket/\d+", ticket_url)
    _, thread = session.get(ticket_url)
    attachment_url = re.search(r'href="(/ticket/\d+/allegati/\d+)"', thread).group(1)
    for _ in range(20):
        with session.opener.open(gunicorn["url"] + attachment_url, timeout=30) as download:
            assert download.status == 200 and download.read() == PDF
    assert set(_served(gunicorn["access_log"], r"/ticket/\d+/allegati/\d+")) <= set(home)

    # Both workers run the schedule (it starts with a worker's first request); the
    # lock file lets one of them export, once in the interval.
    export_dir = gunicorn["export_dir"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(export_dir.glob("readings-*.csv")):
        time.sleep(0.2)
    time.sleep(3)  # three more ticks of each worker
    log = gunicorn["error_log"].read_text()
    started = set(re.findall(r"acquisition schedule started in process (\d+)", log))
    assert started == set(home)
    assert len(re.findall(r"acquisition run \d+ \(schedule\)", log)) == 1
    assert len(list(export_dir.glob("readings-*.csv"))) == 1
    assert "Traceback" not in log
    with models.db.connection_context():
        assert AcquisitionRun.select().count() == 1
        assert SelfReading.select().where(SelfReading.status == SelfReading.ACQUIRED).count() >= 2
