"""Readiness of the portal for the proxy and for monitoring: each check a small
function, run in order, that answers with a problem or None; no personal data."""
import logging
import shutil
from pathlib import Path

from flask import current_app
from peewee import PeeweeException

import models
from portal import mail

log = logging.getLogger("area_clienti")


def schema_problem():
    """None when the database's schema is the one the code expects, else what to do."""
    version = models.schema_version()
    if version == models.SCHEMA_VERSION:
        return None
    if version == 0:
        return "the database has no schema: run `flask init-db`"
    if version < models.SCHEMA_VERSION:
        return (f"the database schema is at version {version}, the code needs "
                f"{models.SCHEMA_VERSION}: run `flask init-db`")
    return (f"the database schema is at version {version}, newer than this code "
            f"({models.SCHEMA_VERSION}): deploy the newer code")


def check_database():
    """The database answers a query."""
    models.db.execute_sql("SELECT 1").fetchone()


def check_schema():
    return schema_problem()


def check_disk_space():
    """Every folder the portal writes to has at least HEALTH_MIN_FREE_MB free."""
    minimum = current_app.config["HEALTH_MIN_FREE_MB"]
    for name, folder in _written_folders():
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent  # a folder not made yet lives on its parent's disk
        free_mb = shutil.disk_usage(folder).free // (1024 * 1024)
        if free_mb < minimum:
            return f"{name}: {free_mb} MB free, below {minimum} MB"
    return None


def check_mail_queue():
    """No message waits past MAIL_STUCK_MINUTES, nor was left by a sender that died
    (the mail server is down or every sender is stuck)."""
    stuck = mail.queue_health()["stuck"]
    if stuck:
        return (f"{stuck} message(s) waiting longer than "
                f"{current_app.config['MAIL_STUCK_MINUTES']} minutes")
    return None


def _written_folders():
    """(setting, folder) of every place the portal writes to."""
    folders = [(name, Path(current_app.config[name]))
               for name in ("FILES_DIR", "OUTBOX_DIR", "EXPORT_DIR")]
    if isinstance(models.db.obj, models.SqliteDatabase):
        folders.append(("DATABASE_URL", Path(models.db.obj.database).parent))
    return folders


# name -> check; a check returns None when all is well, else the problem (text that
# names no customer). A new check is one more line.
READINESS_CHECKS = {
    "database": check_database,
    "schema": check_schema,
    "disk_space": check_disk_space,
    "mail_queue": check_mail_queue,
}


def readiness(checks=READINESS_CHECKS):
    """{name: "ok" or the problem} of every check, and whether all passed. A check that
    fails with an error names only the error's kind (the log has the rest: a
    connection error may name hosts and accounts); the other checks still run."""
    results, broken = {}, False
    try:
        models.db.connect(reuse_if_open=True)
    except PeeweeException:
        pass  # each check meets the same error, and says so
    try:
        for name, check in checks.items():
            try:
                problem = check()
            except (PeeweeException, OSError) as error:
                log.warning("readiness check %s failed: %s", name, error)
                broken = broken or isinstance(error, PeeweeException)
                problem = f"failed ({type(error).__name__})"
            results[name] = problem or "ok"
    finally:
        if not models.db.is_closed():
            # A connection that met an error is dropped, never handed back to the pool.
            models.db.manual_close() if broken else models.db.close()
    return results, all(result == "ok" for result in results.values())
