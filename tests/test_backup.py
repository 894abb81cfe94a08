"""`flask backup`: an online, checked copy that restores. It copies SQLite files, so
these tests are SQLite-only but the last: PostgreSQL is backed up with pg_dump."""
import sqlite3

import pytest

import models
from app import create_app
from conftest import make_app


@pytest.mark.sqlite_only
def test_backup_restores_the_data(app, runner, factory, tmp_path):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    factory.supply_point(customer, "gas", code="PR002874")
    destination = tmp_path / "backups"
    destination.mkdir()
    result = runner.invoke(args=["backup", str(destination)])
    assert result.exit_code == 0, result.output
    assert "integrity ok, 1 customers" in result.output
    (copy,) = destination.glob("portal-*.db")

    # Restore: the copy becomes the database of a new portal.
    restored = make_app(tmp_path / "restored", DATABASE_URL=f"sqlite:///{copy}")
    with restored.app_context():
        assert models.Customer.get(models.Customer.code == "654321").name == "ACQUE CHIARE S.R.L."
        assert models.SupplyPoint.get().code == "PR002874"
    client = restored.test_client()
    assert client.post("/login", data={"code": "654321", "password": "una-password-sicura"}).status_code == 303


@pytest.mark.sqlite_only
def test_backup_while_writes_go_on(app, runner, factory, tmp_path):
    """An online copy, taken while another thread keeps writing, is consistent."""
    import threading
    customer = factory.customer()
    stop = threading.Event()

    def keep_writing():
        with models.db.connection_context():
            while not stop.is_set():
                with models.db.atomic():
                    factory.supply_point(customer, "gas")

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = runner.invoke(args=["backup", str(tmp_path / "copy.db")])
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    connection = sqlite3.connect(tmp_path / "copy.db")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copied = connection.execute("SELECT COUNT(*) FROM supply_point").fetchone()[0]
    assert 0 <= copied <= models.SupplyPoint.select().count()


@pytest.mark.sqlite_only
def test_backup_never_overwrites(app, runner, tmp_path):
    (tmp_path / "exists.db").write_text("keep me")
    result = runner.invoke(args=["backup", str(tmp_path / "exists.db")])
    assert result.exit_code != 0 and "exists already" in result.output
    assert (tmp_path / "exists.db").read_text() == "keep me"


def test_backup_refuses_postgresql(tmp_path):
    application = create_app({"TESTING": True, "SECRET_KEY": "x",
                              "DATABASE_URL": "postgresql://portal@127.0.0.1:1/portal"})
    result = application.test_cli_runner().invoke(args=["backup", str(tmp_path / "copy.db")])
    assert result.exit_code != 0
    assert "for PostgreSQL use pg_dump" in result.output
    assert not list(tmp_path.iterdir())
