"""Health and readiness probes, and a portal that refuses to serve a database whose
schema is older than its code."""
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import models
from app import SchemaNotCurrent, create_app
from conftest import make_app

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_answers_without_the_database(client, monkeypatch):
    def no_database(*args, **kwargs):
        raise AssertionError("/healthz must not open the database")

    monkeypatch.setattr(models.db.obj, "connect", no_database)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_reports_every_check_and_no_personal_data(client, logged_in):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok",
                             "checks": {"database": "ok", "schema": "ok", "disk_space": "ok",
                                        "mail_queue": "ok"}}
    assert logged_in.code not in response.text and logged_in.name not in response.text
    # Even a logged-in probe gets no cookie back, and nothing about who it is.
    assert "Set-Cookie" not in response.headers


def test_readyz_fails_below_the_free_space_threshold(app, client):
    app.config["HEALTH_MIN_FREE_MB"] = 10 ** 12  # a petabyte: no test disk has it free
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "fail"
    assert "MB free, below" in response.json["checks"]["disk_space"]
    assert response.json["checks"]["database"] == "ok"


def test_readyz_says_when_mail_is_stuck(app, client, customer):
    """A message due for longer than MAIL_STUCK_MINUTES (the mail server is down, or no
    sender runs) fails readiness, naming no recipient."""
    import datetime
    with app.app_context(), models.db.connection_context():
        models.OutgoingMail.create(
            recipient=customer.email, subject="Prova", kind="recovery", customer=customer,
            status=models.OutgoingMail.QUEUED, message="x",
            next_attempt_at=models.utcnow() - datetime.timedelta(
                minutes=app.config["MAIL_STUCK_MINUTES"] + 1))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["mail_queue"].startswith("1 message(s) waiting longer")
    assert customer.email not in response.text
    assert response.json["checks"]["database"] == "ok"


def test_readyz_says_when_the_schema_is_old(app, client):
    with app.app_context(), models.db.connection_context():
        models.SchemaVersion.delete().where(
            models.SchemaVersion.version == models.SCHEMA_VERSION).execute()
        models.SchemaVersion.create(version=models.SCHEMA_VERSION - 1)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "run `flask init-db`" in response.json["checks"]["schema"]
    assert f"version {models.SCHEMA_VERSION - 1}" in response.json["checks"]["schema"]


def test_readyz_says_when_the_database_is_unreachable(app, client, monkeypatch):
    import peewee

    def unreachable(*args, **kwargs):
        raise peewee.OperationalError("connection to server at secret-host failed")

    monkeypatch.setattr(models.db.obj, "execute_sql", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "failed (OperationalError)"
    assert "secret-host" not in response.text


def test_probes_are_never_rate_limited(tmp_path):
    """Even under a default limit on every route, which the login page meets."""
    application = make_app(tmp_path, RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="5 per minute")
    client = application.test_client()
    statuses = {client.get(path).status_code for _ in range(20) for path in ("/healthz", "/readyz")}
    assert statuses == {200}
    assert [client.get("/login").status_code for _ in range(6)][-1] == 429


@pytest.mark.sqlite_only  # its database is a SQLite file made by release 1
def test_server_refuses_an_old_schema_and_init_db_still_works(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript((ROOT / "tests" / "data" / "schema-v1.sql").read_text())
    connection.close()
    config = {"TESTING": True, "REFUSE_OLD_SCHEMA": True, "SECRET_KEY": "x",
              "DATABASE_URL": f"sqlite:///{path}",
              "FILES_DIR": str(tmp_path / "files")}

    with pytest.raises(SchemaNotCurrent) as refused:
        create_app(config)
    assert str(refused.value) == (
        "Area Clienti refuses to start: the database schema is at version 1, the code "
        f"needs {models.SCHEMA_VERSION}: run `flask init-db`, then start it again.")

    # The real command line, as an operator types it.
    environment = {**os.environ, "FLASK_APP": "app", "DATABASE_URL": f"sqlite:///{path}",
                   "SECRET_KEY": "x"}
    done = subprocess.run([sys.executable, "-m", "flask", "init-db"], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"migrated from version 1 to {models.SCHEMA_VERSION}" in done.stdout

    application = create_app(config)
    response = application.test_client().get("/readyz")
    assert response.json["checks"]["schema"] == "ok"
    models.db.close_all()


@pytest.mark.sqlite_only  # its database is a SQLite file made by release 1
def test_gunicorn_refuses_to_start_on_an_old_schema(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript((ROOT / "tests" / "data" / "schema-v1.sql").read_text())
    connection.close()
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x",
                   "FILES_DIR": str(tmp_path / "files")}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    served = subprocess.run([str(gunicorn), "--workers", "1", "--bind", "127.0.0.1:0",
                             "app:create_app()"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert served.returncode != 0
    assert ("Area Clienti refuses to start: the database schema is at version 1, the code "
            f"needs {models.SCHEMA_VERSION}: run `flask init-db`") in served.stderr
