"""A full disk during a write: a clear page, nothing reported saved that was not, and
the portal works again once space returns."""
import os
import subprocess

import pytest

import models
import peewee
from conftest import PASSWORD, make_app

READING = {"meter_reading": "1234"}


def prepare(application, factory):
    customer = factory.customer(code="654321")
    points = [factory.supply_point(customer, "gas", expected_annual_consumption=None)
              for _ in range(3)]
    models.ReadingWindow.create(start_at="2010-02-11 08:00:00", end_at="2099-02-14 22:00:00")
    client = application.test_client()
    assert client.post("/login", data={"code": "654321", "password": PASSWORD}).status_code == 303
    return client, points


def assert_refused_then_recovered(client, points, make_room):
    refused = client.post("/autolettura", data={"punto": points[0].code, **READING})
    assert refused.status_code == 503
    assert "l'operazione non è stata registrata" in refused.text.replace("&#39;", "'")
    assert "Codice incidente" in refused.text
    make_room()
    if not models.db.is_closed():
        models.db.close()  # this thread's connection met the same full disk
    assert models.SelfReading.select().count() == 0
    saved = client.post("/autolettura", data={"punto": points[1].code, **READING})
    assert saved.status_code == 303
    assert models.SelfReading.select().count() == 1


def test_injected_disk_full_error(app, factory, monkeypatch):
    client, points = prepare(app, factory)
    original = models.db.obj.execute_sql

    def full_disk(sql, *args, **kwargs):
        if sql.startswith('INSERT INTO "self_reading"'):
            raise peewee.OperationalError("database or disk is full")
        return original(sql, *args, **kwargs)

    monkeypatch.setattr(models.db.obj, "execute_sql", full_disk)
    assert_refused_then_recovered(client, points,
                                  lambda: monkeypatch.setattr(models.db.obj, "execute_sql", original))


@pytest.mark.sqlite_only  # the database file must live on the tiny filesystem
@pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                    reason="mounting a tiny filesystem needs root (CI runs as root)")
def test_real_full_filesystem(tmp_path, factory):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    try:
        application = make_app(disk)
        factory.customer(code="000001")  # warm the schema pages up before the disk fills
        client, points = prepare(application, factory)
        filler = disk / "filler"
        try:
            with open(filler, "wb", buffering=0) as out:
                while True:
                    out.write(b"\0" * 4096)
        except OSError:
            pass  # ENOSPC: the filesystem is full
        assert_refused_then_recovered(client, points, filler.unlink)
        models.db.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
