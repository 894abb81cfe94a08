"""Configuration, database setup and schema migrations."""
import datetime
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from peewee import IntegrityError

import models
from app import create_app
from conftest import ON_POSTGRES, make_app


@pytest.mark.sqlite_only
def test_sqlite_pragmas(app):
    database = models.db.obj
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_postgresql_urls_use_psycopg_3():
    """postgresql:// and postgres:// both open Peewee's psycopg 3 database, with the
    percent-encoded parts of the URL decoded and its query string passed to psycopg."""
    from peewee import PostgresqlDatabase, Psycopg3Adapter
    for scheme in ("postgresql", "postgres"):
        database = models.open_database(f"{scheme}://portal:p%40ss%2Fw@db.example.it:5433/"
                                        "portal?sslmode=require")
        assert isinstance(database, PostgresqlDatabase)
        assert isinstance(database._adapter, Psycopg3Adapter)
        assert database.database == "portal"
        assert database.connect_params == {"user": "portal", "password": "p@ss/w",
                                           "host": "db.example.it", "port": 5433,
                                           "sslmode": "require"}
        assert database.is_closed()  # nothing connects before the first request


def test_one_reading_per_supply_point_per_day(app, factory):
    point = factory.supply_point(factory.customer())
    day = datetime.date(2015, 2, 15)
    models.SelfReading.create(supply_point=point, reading_date=day, meter_reading=45000)
    with pytest.raises(IntegrityError):
        with models.db.atomic():
            models.SelfReading.create(supply_point=point, reading_date=day, meter_reading=45001)
    assert models.SelfReading.select().count() == 1


def test_init_db_creates_then_reports_current(runner):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0
    assert f"already at version {models.SCHEMA_VERSION}" in result.output


@pytest.mark.sqlite_only
def test_migration_from_schema_version_1_keeps_data(tmp_path):
    """A database made by schema version 1 reaches the current version with its rows."""
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript((Path(__file__).parent / "data" / "schema-v1.sql").read_text())
    connection.close()

    application = create_app({"TESTING": True, "SECRET_KEY": "x",
                              "DATABASE_URL": f"sqlite:///{path}"})
    result = application.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert f"migrated from version 1 to {models.SCHEMA_VERSION}" in result.output

    with application.app_context(), models.db.connection_context():
        reading = models.SelfReading.get()
        assert reading.meter_reading == 45000
        assert reading.outcome is None and reading.outcome_reason == ""
        assert reading.supply_point.code == "PR002874"
        assert models.schema_version() == models.SCHEMA_VERSION
        reading.outcome = "validata"
        reading.save()


def migrate_from(runner, version):
    """Mark the database (its schema already taken back) as `version`, then let
    `flask init-db` migrate it to the current one."""
    models.SchemaVersion.delete().execute()
    models.SchemaVersion.create(version=version)
    models.db.close()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert f"migrated from version {version} to {models.SCHEMA_VERSION}" in result.output


def drop_columns(table, columns):
    """ALTER TABLE ... DROP COLUMN; SQLite refuses it for a foreign key's column, so
    there the table is copied without them (constraints left out: enough to migrate)."""
    if ON_POSTGRES:
        for column in columns:
            models.db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        return
    kept = ", ".join(f'"{column.name}"' for column in models.db.get_columns(table)
                     if column.name not in columns)
    models.db.execute_sql(f'CREATE TABLE "{table}_copy" AS SELECT {kept} FROM "{table}"')
    models.db.execute_sql(f'DROP TABLE "{table}"')
    models.db.execute_sql(f'ALTER TABLE "{table}_copy" RENAME TO "{table}"')


def test_migration_to_the_current_version_on_this_database(app, runner, factory):
    """The migrations run on either database: one at version 1 (without the columns
    of version 2) reaches the current version with its rows."""
    reading = models.SelfReading.create(supply_point=factory.supply_point(factory.customer()),
                                        reading_date=datetime.date(2015, 2, 15),
                                        meter_reading=45000)
    # Back to version 1: without what versions 2, 3, 4 and 5 add.
    models.db.drop_tables([models.Holding, models.PaymentReport, models.DirectDebitMandate])
    drop_columns("operator", ["must_change_password"])
    drop_columns("invoice", ["customer_id", *PAYMENT_COLUMNS])
    drop_columns("self_reading", ["outcome", "outcome_reason", "customer_id"])
    strip_mail_queue()
    migrate_from(runner, 1)
    with models.db.connection_context():
        stored = models.SelfReading.get_by_id(reading.id)
        assert stored.meter_reading == 45000
        assert stored.outcome is None and stored.outcome_reason == ""
        assert stored.customer_id == stored.supply_point.customer_id
        assert models.Holding.select().count() == 1
        assert models.schema_version() == models.SCHEMA_VERSION


PAYMENT_COLUMNS = ["pagopa_notice", "pagopa_creditor", "payment_link", "direct_debit_iban"]


def test_migration_to_payments_keeps_invoices(app, runner, factory):
    """A database made before the payments migration (no payment columns on invoices,
    no mandates or reports) reaches the current version with its invoices."""
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_payments)
    point = factory.supply_point(factory.customer())
    models.Invoice.create(number="FT-4418207", supply_point=point, date=datetime.date(2024, 3, 5),
                          period_start=datetime.date(2024, 1, 1),
                          period_end=datetime.date(2024, 2, 29), amount=Decimal("187.40"),
                          due_date=datetime.date(2024, 3, 25))
    models.db.drop_tables([models.PaymentReport, models.DirectDebitMandate])
    if ON_POSTGRES:
        drop_columns("invoice", PAYMENT_COLUMNS)
    else:
        for column in PAYMENT_COLUMNS:
            models.db.execute_sql(f'ALTER TABLE "invoice" DROP COLUMN "{column}"')
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        invoice = models.Invoice.get(models.Invoice.number == "FT-4418207")
        assert invoice.amount == Decimal("187.40") and invoice.customer_id == point.customer_id
        assert invoice.pagopa_notice is None and invoice.direct_debit_iban is None
        models.DirectDebitMandate.create(reference="ACM-1", customer=point.customer_id,
                                         supply_point=point, iban="IT60X0542811101000000123456",
                                         account_holder="CLIENTE")
        models.PaymentReport.create(invoice=invoice, customer=point.customer_id,
                                    file_path="payment-reports/x.pdf", file_name="x.pdf",
                                    content_type="application/pdf")


def test_migration_to_payment_report_handling_keeps_reports(app, runner, factory):
    """Reports made before operators could verify them stay, all in the queue."""
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_payment_report_handling)
    point = factory.supply_point(factory.customer())
    invoice = models.Invoice.create(number="FT-4418208", supply_point=point,
                                    date=datetime.date(2024, 3, 5),
                                    period_start=datetime.date(2024, 1, 1),
                                    period_end=datetime.date(2024, 2, 29),
                                    amount=Decimal("61.20"), due_date=datetime.date(2024, 3, 25))
    report = models.PaymentReport.create(invoice=invoice, customer=point.customer_id,
                                         file_path="payment-reports/y.pdf", file_name="y.pdf",
                                         content_type="application/pdf")
    drop_columns("payment_report", ["handled_at", "handled_by_id", "handled_note"])
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        stored = models.PaymentReport.get_by_id(report.id)
        assert (stored.file_name, stored.invoice_id) == ("y.pdf", invoice.id)
        assert stored.handled_at is None and stored.handled_by_id is None
        with app.app_context():
            from portal import payments
            assert [row.id for row in payments.open_reports()] == [report.id]
            operator = models.Operator.create(username="op7000001", password_hash="x")
            assert payments.verify_report(stored, operator.id, "")
            assert list(payments.open_reports()) == []


def strip_mail_queue():
    """Take back what the mail-queue migration adds, as a database made before it."""
    models.db.execute_sql("DROP INDEX outgoing_mail_status_next_attempt_at")
    for column in ("message", "attempts", "next_attempt_at", "claimed_until", "sent_at"):
        models.db.execute_sql(f"ALTER TABLE outgoing_mail DROP COLUMN {column}")
    models.db.execute_sql("DROP TABLE registration_request")


def test_migration_to_batched_merges_and_submission_tokens_keeps_data(app, runner, factory):
    """A database made before the bad-days migration (measurements unique by point and
    time, no token table) reaches the current version with its rows, all shown."""
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_6)
    point = factory.supply_point(factory.customer(), "electricity")
    models.Measurement.insert_many(
        [(point.id, 1704063600 + 900 * step, 0.25, 1.5) for step in range(96)],
        fields=[models.Measurement.supply_point, models.Measurement.timestamp,
                models.Measurement.active_energy_kwh, models.Measurement.power_kw]).execute()
    # Back to the schema before it.
    models.db.drop_tables([models.FormSubmission, models.MergeRun])
    for index in ("measurement_supply_point_id_timestamp_generation", "measurement_replaced_in"):
        models.db.execute_sql(f'DROP INDEX "{index}"')
    for column in ("generation", "replaced_in"):
        models.db.execute_sql(f'ALTER TABLE "measurement" DROP COLUMN "{column}"')
    models.db.execute_sql('CREATE UNIQUE INDEX "measurement_supply_point_id_timestamp" '
                          'ON "measurement" ("supply_point_id", "timestamp")')
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        shown = models.Measurement.select().where(models.Measurement.visible())
        assert shown.count() == 96
        assert {row.generation for row in shown} == {0}
        with pytest.raises(IntegrityError), models.db.atomic():
            models.Measurement.create(supply_point=point, timestamp=1704063600,
                                      active_energy_kwh=1)
        models.FormSubmission.create(owner="c:1", token="a" * 32, result_url="/ticket/1")


def test_migration_drops_the_measurement_index_the_unique_one_repeats(app, runner, factory):
    """A database made before it keeps its measurements, loses the index on the point
    alone, and still finds a point's rows by the unique (point, time, generation) one."""
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_measurement_point_index)
    point = factory.supply_point(factory.customer(), "electricity")
    models.Measurement.insert_many(
        [(point.id, 1704063600 + 900 * step, 0.5) for step in range(8)],
        fields=[models.Measurement.supply_point, models.Measurement.timestamp,
                models.Measurement.active_energy_kwh]).execute()
    models.db.execute_sql('CREATE INDEX "measurement_supply_point_id" '
                          'ON "measurement" ("supply_point_id")')
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        names = {index.name for index in models.db.get_indexes("measurement")}
        assert "measurement_supply_point_id" not in names
        assert "measurement_supply_point_id_timestamp_generation" in names
        rows = models.Measurement.select().where(models.Measurement.supply_point == point)
        assert rows.count() == 8
        if not ON_POSTGRES:
            sql, params = rows.sql()
            plan = " ".join(str(row) for row in models.db.execute_sql(
                f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
            assert "measurement_supply_point_id_timestamp_generation" in plan


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = make_app(tmp_path, SECRET_KEY=None)
    second = make_app(tmp_path, SECRET_KEY=None)
    assert first.config["SECRET_KEY"] and first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        make_app(tmp_path, SECRET_KEY=None, PRODUCTION=True)


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("COMPANY_NAME", "Gas Val di Cecina S.r.l.")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    # A server refuses a database without the current schema: give it one first.
    models.db.initialize(models.open_database(f"sqlite:///{tmp_path / 'env.db'}"))
    with models.db.connection_context():
        models.init_schema()
    application = create_app()
    assert application.config["MAIL_PORT"] == 2525
    assert application.config["MAIL_USE_TLS"] is True
    assert application.config["COMPANY_NAME"] == "Gas Val di Cecina S.r.l."
    assert models.db.obj.database == str(tmp_path / "env.db")


def test_https_base_url_locks_the_cookie(tmp_path):
    application = make_app(tmp_path, BASE_URL="https://clienti.example.it",
                           SESSION_COOKIE_SECURE=None, SESSION_COOKIE_NAME=None)
    # None lifts make_app's test overrides: the factory decides from BASE_URL.
    assert application.config["SESSION_COOKIE_SECURE"] is True
    assert application.config["SESSION_COOKIE_NAME"] == "__Host-session"


def test_plain_http_keeps_an_ordinary_cookie(tmp_path):
    application = make_app(tmp_path, BASE_URL="http://127.0.0.1:5000",
                           SESSION_COOKIE_SECURE=None, SESSION_COOKIE_NAME=None)
    assert application.config["SESSION_COOKIE_SECURE"] is False
    assert application.config["SESSION_COOKIE_NAME"] == "session"


def test_company_name_is_shown(client):
    assert "Energia Colline Toscane S.p.A." in client.get("/login").text


def test_demo_refuses_to_run_in_production(tmp_path):
    """The demo's admin has a password published in the README: never in production."""
    application = make_app(tmp_path, PRODUCTION=True)
    result = application.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "does not run with PRODUCTION=1" in result.output
    with application.app_context():
        assert models.Customer.select().count() == 0
        assert models.Operator.select().count() == 0


def test_migration_adds_must_change_password_to_operators_keeping_them(app, runner):
    """A database from before the operators' temporary passwords keeps its accounts,
    none of them forced to change (nobody knows which passwords an admin chose)."""
    from portal import backoffice
    operator = backoffice.create_operator("mario.rossi", "Sportello-Prova-2015")
    [version] = [number for number, migration in models.MIGRATIONS.items()
                 if migration is models._migrate_4]
    drop_columns("operator", ["must_change_password"])
    strip_mail_queue()  # what the later migration 5 adds
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        stored = models.Operator.get_by_id(operator.id)
        assert stored.username == "mario.rossi" and stored.password_hash == operator.password_hash
        assert stored.must_change_password is False
        assert models.schema_version() == models.SCHEMA_VERSION
