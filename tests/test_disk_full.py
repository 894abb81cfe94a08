"""A full disk during a write: a clear page, nothing reported saved that was not, and
the portal works again once space returns."""
import errno
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import models
import peewee
from conftest import PASSWORD, make_app

ROOT = Path(__file__).resolve().parent.parent
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


# --- Files: uploads, fsync, the command line ------------------------------------------

PDF = b"%PDF-1.4\n" + b"x" * 200_000 + b"\n%%EOF\n"


def open_ticket_with(client, point, content=PDF):
    return client.post("/ticket/nuovo", content_type="multipart/form-data", data={
        "supply_point": point.code, "kind": "informazioni", "subject": "Lettura errata",
        "message": "Allego la bolletta.", "attachment": (io.BytesIO(content), "bolletta.pdf")})


def files_under(folder):
    return sorted(path.name for path in Path(folder).rglob("*") if path.is_file())


def test_upload_on_a_full_disk_gets_the_page_and_leaves_no_file(app, factory, monkeypatch):
    """fsync is where a full disk (or quota) often shows up, after the bytes were
    written: the half-stored .part file must go, and no ticket may be kept."""
    client, points = prepare(app, factory)
    real_fsync = os.fsync

    def no_space(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    refused = open_ticket_with(client, points[0])
    assert refused.status_code == 503
    assert "l'operazione non è stata registrata" in refused.text.replace("&#39;", "'")
    assert "Codice incidente" in refused.text
    assert files_under(app.config["FILES_DIR"]) == []
    assert models.Ticket.select().count() == 0

    monkeypatch.setattr(os, "fsync", real_fsync)
    assert open_ticket_with(client, points[0]).status_code == 303
    [stored] = files_under(app.config["FILES_DIR"])
    assert stored.endswith(".pdf")
    assert models.TicketMessage.get().attachment_path.endswith(stored)


def test_other_os_errors_stay_unexpected_errors(app, factory, monkeypatch):
    client, points = prepare(app, factory)
    monkeypatch.setattr(os, "fsync", lambda descriptor: (_ for _ in ()).throw(
        OSError(errno.EIO, "Input/output error")))
    response = open_ticket_with(client, points[0])
    assert response.status_code == 500
    assert files_under(app.config["FILES_DIR"]) == []


def test_attachment_and_its_folder_reach_the_disk_before_the_row_commits(app, factory, monkeypatch):
    client, points = prepare(app, factory)
    events = []
    real_fsync, real_commit = os.fsync, models.db.obj.commit

    def fsync(descriptor):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        return real_fsync(descriptor)

    def commit():
        events.append(("commit", None))
        return real_commit()

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(models.db.obj, "commit", commit)
    assert open_ticket_with(client, points[0]).status_code == 303
    monkeypatch.setattr(models.db.obj, "commit", real_commit)

    stored = Path(app.config["FILES_DIR"]) / models.TicketMessage.get().attachment_path
    assert stored.read_bytes() == PDF
    first_commit = events.index(("commit", None))
    synced = [path for event, path in events[:first_commit] if event == "fsync"]
    # The folders made for it (each in its parent), the file (written as .part, then
    # renamed), then its folder: all before the commit.
    files_dir = Path(app.config["FILES_DIR"])
    assert synced == [str(files_dir.parent), str(files_dir), str(files_dir / "tickets"),
                      str(stored.with_suffix(".part")), str(stored.parent)]


@pytest.mark.sqlite_only  # FILES_DIR on the tiny filesystem, the database beside it
@pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                    reason="mounting a tiny filesystem needs root (CI runs as root)")
def test_upload_to_a_really_full_filesystem(tmp_path, factory):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        application = make_app(tmp_path / "app", FILES_DIR=str(disk / "files"))
        client, points = prepare(application, factory)
        filler = disk / "filler"
        try:
            with open(filler, "wb", buffering=0) as out:
                while True:
                    out.write(b"\0" * 4096)
        except OSError:
            pass  # ENOSPC: the filesystem is full
        refused = open_ticket_with(client, points[0])
        assert refused.status_code == 503
        assert [path.name for path in disk.rglob("*") if path.is_file()] == ["filler"]
        assert models.Ticket.select().count() == 0
        filler.unlink()
        assert open_ticket_with(client, points[0]).status_code == 303
        assert len(files_under(disk / "files")) == 1
        models.db.close_all()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_import_on_a_full_disk_says_so_in_one_line(app, runner, factory, tmp_path, monkeypatch):
    source = tmp_path / "customers.csv"
    source.write_text("code;name;tax_code\n111111;ROSSI MARIO;RSSMRA68D12E625Y\n", encoding="utf-8")
    original = models.db.obj.execute_sql

    def full_disk(sql, *args, **kwargs):
        if sql.startswith('INSERT INTO "customer"'):
            raise peewee.OperationalError("database or disk is full")
        return original(sql, *args, **kwargs)

    monkeypatch.setattr(models.db.obj, "execute_sql", full_disk)
    result = runner.invoke(args=["import", "customers", str(source), "--quiet"])
    assert result.exit_code == 1
    assert result.output == ("Error: no space left on the device (disk or quota full): nothing "
                             "was saved. Free some space and run the command again.\n")
    assert result.exception is not None and not isinstance(result.exception, peewee.PeeweeException)
    monkeypatch.setattr(models.db.obj, "execute_sql", original)
    assert models.Customer.select().where(models.Customer.code == "111111").count() == 0


def test_imported_files_reach_the_disk_before_their_rows_commit(app, runner, tmp_path,
                                                               monkeypatch):
    from test_exchange import import_ok, load_samples
    folder = tmp_path / "samples"
    shutil.copytree(ROOT / "samples", folder)
    load_samples(runner, folder, "documents")
    events = []
    real_fsync, real_commit = os.fsync, models.db.obj.commit

    def fsync(descriptor):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        return real_fsync(descriptor)

    def commit():
        # The commit that makes the documents' rows permanent sees them already.
        if models.Document.select().exists():
            events.append(("commit", None))
        return real_commit()

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(models.db.obj, "commit", commit)
    import_ok(runner, "documents", folder / "documents.csv")
    monkeypatch.setattr(models.db.obj, "commit", real_commit)

    files_dir = Path(app.config["FILES_DIR"])
    stored = [files_dir / document.file_path for document in models.Document.select()]
    assert stored and all(path.stat().st_size > 0 for path in stored)
    before_commit = {path for event, path in events[:events.index(("commit", None))]
                     if event == "fsync"}
    assert {str(path.parent) for path in stored} <= before_commit
    # Each copy was synced where it waited (under a hidden staging folder) before.
    synced_copies = [path for path in before_commit if "/.import-" in path]
    assert len(synced_copies) == len(stored)
