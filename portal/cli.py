"""Every `flask` command of the portal: the schema, demo data, imports and exports
with the billing system, self-reading acquisition, the mail queue and notices, operator accounts,
retention, backup and the static bundles."""
import contextlib
import fcntl
import functools
import sqlite3
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

import models
from portal import acquisition, assets, backoffice, mail, notices, payments, privacy, settings
from portal.exchange.export import export_all, export_paperless
from portal.exchange.folder import import_folder
from portal.exchange.importer import import_file
from portal.exchange.kinds import KINDS


NO_SPACE = ("no space left on the device (disk or quota full): nothing was saved. "
            "Free some space and run the command again.")


def init_app(app):
    """Register the commands on the application's `flask` command line."""
    for command in (init_db, demo, backup, retention, readings_cli, mail_cli, operator_cli,
                    import_command, import_dir_command, export_all_command,
                    export_paperless_command, settings_command, assets_command, mandates_cli):
        _say_a_full_disk_in_one_line(command)
        app.cli.add_command(command)


def _say_a_full_disk_in_one_line(command):
    """A full disk ends any command with one line on stderr and exit status 1, not a
    traceback (subcommands of a group included)."""
    for subcommand in getattr(command, "commands", {}).values():
        _say_a_full_disk_in_one_line(subcommand)
    callback = command.callback
    if callback is None or getattr(callback, "says_full_disk", False):
        return

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as error:
            if models.is_disk_full(error):
                raise click.ClickException(NO_SPACE) from None
            raise

    guarded.says_full_disk = True
    command.callback = guarded


@contextlib.contextmanager
def _current_schema():
    """The database for a command, whose schema must be current; closed after
    unless it was already open."""
    opened = models.db.connect(reuse_if_open=True)
    try:
        version = models.schema_version()
        if version != models.SCHEMA_VERSION:
            raise click.ClickException(
                "the database has no schema yet: run `flask init-db` first" if version == 0
                else f"the database schema is at version {version}, not "
                     f"{models.SCHEMA_VERSION}: run `flask init-db` first")
        yield
    finally:
        if opened and not models.db.is_closed():
            models.db.close()


# --- Schema and demo data -----------------------------------------------------------

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
    # Imported here: only this command needs the demo (and fpdf, 0.1 s to import), not
    # every serving process.
    from portal.demo.scale import generate as generate_scale_demo
    from portal.demo.small import generate as generate_demo

    if current_app.config["PRODUCTION"]:
        # The demo's operator and admin have passwords the README publishes.
        raise click.ClickException(
            "flask demo does not run with PRODUCTION=1: it creates an operator and an "
            "admin whose passwords the README publishes. Load real data with "
            "`flask import-dir` and create accounts with `flask operator create`.")
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
            summary = generate_demo(files_dir, seed=seed, log=click.echo)
        else:
            summary = generate_scale_demo(files_dir, scale=scale, seed=seed, log=click.echo)
        backoffice.create_demo_operators()
    click.echo(f"Demo data ready in {time.monotonic() - started:.1f} s: "
               + ", ".join(f"{count} {name}" for name, count in summary.items()))


# --- Operations -------------------------------------------------------------------

@click.command("settings")
def settings_command():
    """Print the environment variables the portal reads, with their defaults and
    meanings, as the README's Markdown table."""
    click.echo(settings.markdown_table(), nl=False)


@click.command("assets")
@with_appcontext
def assets_command():
    """Write the one stylesheet and the one script of every page (static/bundle/) from
    their sources; commit them with the sources."""
    written = assets.write_bundles(current_app.static_folder)
    click.echo(f"Written: {', '.join(written)}." if written else "The bundles are up to date.")


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
    """Delete audit rows, mail records, form tokens and export files older than their
    retention (AUDIT_RETENTION_DAYS, MAIL_RETENTION_DAYS, FORM_TOKEN_RETENTION_DAYS,
    EXPORT_RETENTION_DAYS); run it daily."""
    config = current_app.config
    with models.db.connection_context():
        removed = privacy.purge_expired(config["AUDIT_RETENTION_DAYS"],
                                        config["MAIL_RETENTION_DAYS"],
                                        config["EXPORT_RETENTION_DAYS"], config["EXPORT_DIR"],
                                        token_days=config["FORM_TOKEN_RETENTION_DAYS"])
    click.echo("Removed: " + ", ".join(f"{count} {kind}" for kind, count in removed.items()))


# --- Self-readings ------------------------------------------------------------------

readings_cli = click.Group("readings", help="Self-readings: acquisition for the billing system.")


@readings_cli.command("acquire")
@click.option("--export-dir", type=click.Path(file_okay=False),
              help="Folder of the export files (default: EXPORT_DIR).")
@with_appcontext
def acquire_command(export_dir):
    """Export the pending self-readings for billing and mark them "Acquisita"."""
    export_dir = Path(export_dir or current_app.config["EXPORT_DIR"])
    with models.db.connection_context():
        run = acquisition.acquire(export_dir, trigger="command")
    if run is None:
        click.echo("Nessuna lettura da acquisire: nessun file scritto.")
    else:
        click.echo(f"Acquisite {run.reading_count} letture: {export_dir / run.file_path}")


# --- Direct-debit mandates ------------------------------------------------------------

mandates_cli = click.Group("mandates", help="Direct-debit mandates: export for the billing system.")


@mandates_cli.command("export")
@click.option("--export-dir", type=click.Path(file_okay=False),
              help="Folder of the export files (default: EXPORT_DIR).")
@with_appcontext
def export_mandates_command(export_dir):
    """Export the mandate requests not sent yet (new mandates, revocations)."""
    export_dir = Path(export_dir or current_app.config["EXPORT_DIR"])
    with models.db.connection_context():
        result = payments.export_mandates(export_dir)
    if result is None:
        click.echo("Nessuna richiesta di domiciliazione da esportare: nessun file scritto.")
    else:
        click.echo(f"Esportate {result[1]} richieste di domiciliazione: {result[0]}")


# --- The mail queue ------------------------------------------------------------------

mail_cli = click.Group("mail", help="The outgoing-mail queue.")


@mail_cli.command("send-pending")
@with_appcontext
def send_pending_command():
    """Deliver the queued mail that is due now (with MAIL_SENDER=0, run it from cron)."""
    with _current_schema():
        counts = mail.deliver_due(limit=10_000)
    click.echo(f"Inviate {counts['sent']}, da riprovare {counts['retry']}, "
               f"non recapitate {counts['failed']}.")


@mail_cli.command("notices")
@with_appcontext
def notices_command():
    """Give the time-based notices due now (reading windows, invoices falling due or
    overdue, recent invoices an import did not get to announce); each is given once
    however often this runs (NOTICE_INTERVAL=0: from cron)."""
    with _current_schema():
        counts = notices.run_schedule()
    click.echo(f"Nuove bollette: {counts['new_invoice']} clienti. "
               f"Periodi di autolettura aperti {counts['window_open']}, in chiusura "
               f"{counts['window_closing']}; bollette in scadenza {counts['due_soon']}, "
               f"scadute {counts['overdue']}.")


@mail_cli.command("list-failed")
@with_appcontext
def list_failed_command():
    """List the messages failed for good (an admin sends them again from the back-office)."""
    with _current_schema():
        for row in models.OutgoingMail.failed_for_good():
            click.echo(f"{row.id}\t{row.created_at:%Y-%m-%d %H:%M}\t{row.kind}\t"
                       f"{row.recipient}\t{row.attempts}\t{row.error}")


# --- Operator accounts ---------------------------------------------------------------

operator_cli = click.Group("operator", help="Operator accounts of the back-office.")


def _operator_named(username):
    operator = backoffice.operator_named(username)
    if operator is None:
        raise click.ClickException(f"Nessun operatore «{username}».")
    return operator


def _prompt_password():
    return click.prompt("Password", hide_input=True, confirmation_prompt="Ripeti la password")


@operator_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(backoffice.ROLES), default=models.Operator.OPERATOR,
              show_default=True, help="admin also reads the audit log.")
@click.option("--name", default="", help="Full name shown in the back-office.")
def create_command(username, role, name):
    """Create an operator account (the password is asked, never given as an argument)."""
    password = _prompt_password()
    with models.db.connection_context():
        try:
            operator = backoffice.create_operator(username, password, role, name)
        except backoffice.AccountError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"Operatore «{operator.username}» creato (ruolo {operator.role}).")


@operator_cli.command("set-password")
@click.argument("username")
def set_password_command(username):
    """Give an operator a new password (and end their sessions)."""
    password = _prompt_password()
    with models.db.connection_context():
        try:
            backoffice.set_password(_operator_named(username), password)
        except backoffice.AccountError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"Password di «{username}» cambiata.")


@operator_cli.command("deactivate")
@click.argument("username")
def deactivate_command(username):
    """Disable an operator account and end its sessions."""
    with models.db.connection_context():
        operator = _operator_named(username)
        backoffice.set_active(operator, False)
    click.echo(f"Operatore «{operator.username}» disattivato.")


@operator_cli.command("list")
def list_command():
    """List the operator accounts."""
    with models.db.connection_context():
        for operator in backoffice.operators():
            state = "attivo" if operator.active else "disattivato"
            click.echo(f"{operator.username}\t{operator.role}\t{state}\t{operator.name}")


# --- Data exchange with the billing system --------------------------------------------

def _kinds_help():
    return "\n\n".join(f"{name}: {kind.description}" for name, kind in KINDS.items())


@click.command("import", help=(
    "Import FILE, a CSV of the billing system of kind KIND (see docs/data-exchange.md). "
    "Nothing is imported unless every line is good; exits 1 when the file is rejected.\n\n"
    + _kinds_help()))
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--files", "files_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of the PDFs and documents the lines name (default: FILE's folder).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report to this file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def import_command(kind, file, files_dir, report_path, quiet):
    with _current_schema():
        report = import_file(kind, file, files_dir=files_dir, quiet=quiet)
    text = report.text()
    if report_path:
        report_path.write_text(text, encoding="utf-8")
    click.echo(text, nl=False)
    if not report.ok:
        sys.exit(1)


@click.command("import-dir")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bars.")
@with_appcontext
def import_dir_command(folder, quiet):
    """Nightly load: import every CSV of FOLDER whose name starts with a kind
    (customers*.csv, supply_points*.csv, ...) in dependency order; move each to
    FOLDER/done or FOLDER/failed with NAME.report.txt beside it. Exits 1 when
    anything failed."""
    with open(folder / ".import-dir.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(f"another import-dir is running on {folder}") from None
        with _current_schema():
            reports = import_folder(folder, quiet=quiet)
    if not reports:
        click.echo(f"nothing to import in {folder}")
    failures = sum(1 for report in reports if not report.ok)
    if failures:
        click.echo(f"{failures} of {len(reports)} file(s) failed: see {folder / 'failed'}", err=True)
        sys.exit(1)


@click.command("export-all")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def export_all_command(folder):
    """Write the database's billing data as contract files into FOLDER (PDFs and
    documents under FOLDER/files), ready for `flask import-dir FOLDER` on another
    database."""
    with _current_schema():
        written = export_all(folder)
    click.echo(", ".join(f"{count} {kind}" for kind, count in written.items())
               + f" written to {folder}")



@click.command("export-paperless")
@click.option("--export-dir", type=click.Path(file_okay=False),
              help="Folder of the file (default: EXPORT_DIR).")
@with_appcontext
def export_paperless_command(export_dir):
    """Write EXPORT_DIR/paperless_billing.csv: every customer's bolletta web choice and
    its date, for the billing system (run it nightly, before billing)."""
    folder = Path(export_dir or current_app.config["EXPORT_DIR"])
    with _current_schema():
        count = export_paperless(folder)
    click.echo(f"Bolletta web: {count} clienti in {folder / 'paperless_billing.csv'}")
