"""Command-line interface: `flask init-db`, `flask demo`, `flask backup`, `flask retention`."""
import sqlite3
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

import models


def init_app(app):
    from portal import exchange
    from portal.acquisition import readings_cli
    from views.operator import operator_cli
    app.cli.add_command(init_db)
    app.cli.add_command(demo)
    app.cli.add_command(backup)
    app.cli.add_command(retention)
    app.cli.add_command(readings_cli)
    app.cli.add_command(operator_cli)
    exchange.init_app(app)


@click.command("init-db")
def init_db():
    """Create the schema, or migrate an existing database to the current version."""
    with models.db.connection_context():
        before = models.schema_version()
        after = models.init_schema()
    if before == after:
        click.echo(f"Schema already at version {after}.")
    elif before == 0:
        click.echo(f"Schema created (version {after}).")
    else:
        click.echo(f"Schema migrated from version {before} to {after}.")


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has customers.")
@click.option("--seed", default=20150215, show_default=True, help="Random seed.")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small",
              show_default=True,
              help="small: 50 customers with every bill since 2014; medium: 20,000 customers, "
                   "25,000 points, 500,000 invoices; large: ten times medium (load tests).")
def demo(if_empty, seed, scale):
    """Fill an empty database with realistic demo data."""
    from portal import demo as demo_data
    from portal import demo_scale

    with models.db.connection_context():
        models.init_schema()
        if models.Customer.select().exists():
            if if_empty:
                click.echo("The database already has data: demo skipped.")
                return
            raise click.ClickException("The database is not empty: demo data go only "
                                       "into an empty database.")
        started = time.monotonic()
        files_dir = Path(current_app.config["FILES_DIR"])
        if scale == "small":
            summary = demo_data.generate(files_dir, seed=seed, log=click.echo)
        else:
            summary = demo_scale.generate(files_dir, scale=scale, seed=seed, log=click.echo)
        from views.operator import create_demo_operators
        create_demo_operators()
    click.echo(f"Demo data ready in {time.monotonic() - started:.1f} s: "
               + ", ".join(f"{count} {name}" for name, count in summary.items()))


@click.command("backup")
@click.argument("destination", type=click.Path(path_type=Path))
def backup(destination):
    """Copy the live SQLite database to DESTINATION (a file, or a folder for a dated
    file) while the portal keeps running, then check the copy."""
    database = models.db.obj
    if not isinstance(database, models.SqliteDatabase):
        raise click.ClickException("flask backup copies SQLite databases; for PostgreSQL "
                                   "use pg_dump.")
    if destination.is_dir():
        destination = destination / f"portal-{models.utcnow():%Y%m%d-%H%M%S}.db"
    if destination.exists():
        raise click.ClickException(f"{destination} exists already: choose a new name.")
    partial = destination.with_name(destination.name + ".partial")
    with models.db.connection_context():
        target = sqlite3.connect(partial)
        try:
            # The backup API copies a consistent snapshot page by page; writers wait
            # only for the few milliseconds each step takes.
            models.db.connection().backup(target, pages=1024, sleep=0.005)
        finally:
            target.close()
    check = sqlite3.connect(partial)
    try:
        verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        customers = check.execute("SELECT COUNT(*) FROM customer").fetchone()[0]
    finally:
        check.close()
    if verdict != "ok":
        partial.unlink()
        raise click.ClickException(f"The copy failed its integrity check: {verdict}")
    partial.rename(destination)
    click.echo(f"Backup written to {destination} (integrity ok, {customers} customers).")


@click.command("retention")
@with_appcontext
def retention():
    """Delete audit rows, mail records and export files older than their retention
    (AUDIT_RETENTION_DAYS, MAIL_RETENTION_DAYS, EXPORT_RETENTION_DAYS); run it daily."""
    from portal import privacy
    config = current_app.config
    with models.db.connection_context():
        removed = privacy.purge_expired(config["AUDIT_RETENTION_DAYS"],
                                        config["MAIL_RETENTION_DAYS"],
                                        config["EXPORT_RETENTION_DAYS"], config["EXPORT_DIR"])
    click.echo("Removed: " + ", ".join(f"{count} {kind}" for kind, count in removed.items()))
