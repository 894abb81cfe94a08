"""How many SQL statements each customer page runs, whatever the data: a loop of
queries (N+1) or a new query per row fails here. And the Prepared queries: built once,
parameters checked."""
import datetime
import logging
import re
import time

import pytest

from portal import timebands
import models
from conftest import ON_POSTGRES, _admin_connection
from models import (BilledConsumption, Customer, Document, Invoice, Measurement, Prepared,
                    ReadingWindow, SelfReading)

HTMX = {"HX-Request": "true"}


class QueryLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements = []

    def emit(self, record):
        if isinstance(record.msg, tuple):  # Peewee logs (sql, params)
            self.statements.append(record.msg[0])


@pytest.fixture
def queries():
    handler = QueryLog()
    logger = logging.getLogger("peewee")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.statements
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def populated(logged_in, tmp_path, app):
    """Enough rows of every kind that a query per row would show."""
    gas, electricity = logged_in.supply_points_in_order()
    files = tmp_path / "files"
    (files / "invoices").mkdir(parents=True)
    (files / "invoices" / "a.pdf").write_bytes(b"%PDF-1.4\n")
    for point in (gas, electricity):
        for month in range(1, 13):
            for year in (2024, 2025):
                start = datetime.date(year, month, 1)
                end = timebands.next_month(start) - datetime.timedelta(days=1)
                Invoice.create(number=f"FT{year}-{point.id}{month:02d}", supply_point=point,
                               date=end + datetime.timedelta(days=5), period_start=start,
                               period_end=end, amount="10.00", due_date=end, paid=True,
                               pdf_path="invoices/a.pdf")
                BilledConsumption.create(supply_point=point, period_start=start, period_end=end,
                                         energy_f1=1, energy_f2=2, energy_f3=3, energy_total=6,
                                         max_power=3, unit="kWh")
    for day in range(1, 25):
        SelfReading.create(supply_point=gas, reading_date=datetime.date(2025, 1, day),
                           meter_reading=100 + day, corrector_reading=100 + day,
                           status=SelfReading.ACQUIRED)
    ReadingWindow.create(start_at=datetime.datetime(2010, 1, 1), end_at=datetime.datetime(2099, 1, 1))
    for index in range(15):
        ReadingWindow.create(start_at=datetime.datetime(2090, 1, 1 + index),
                             end_at=datetime.datetime(2090, 1, 2 + index))
    for index in range(5):
        Document.create(customer=logged_in, title=f"Lettera {index}",
                        date=datetime.date(2025, 1, 1 + index), file_path=f"documents/{index}.pdf")
    start = timebands.midnight_timestamp(datetime.date(2025, 3, 1))
    Measurement.insert_many([dict(supply_point=electricity, timestamp=start + 900 * step,
                                  active_energy_kwh=0.25, power_kw=1.0)
                             for step in range(96 * 7)]).execute()
    return gas, electricity


def pages(gas, electricity):
    invoice = Invoice.select().where(Invoice.supply_point == electricity).first()
    period = f"punto={electricity.code}&dal=2025-03-01&al=2025-03-07"
    return [
        # (name, URL, headers, most statements)
        # ... and the last billed period (is the last bill an estimate?).
        ("home", f"/home?punto={electricity.code}", {}, 6),
        ("invoices", f"/fatture?punto={electricity.code}", {**HTMX, "HX-Target": "content"}, 4),
        ("invoices of a year", f"/fatture?punto={electricity.code}&anno=2024&pagina=2",
         {**HTMX, "HX-Target": "invoice-list"}, 4),
        ("invoice PDF", f"/fatture/{invoice.id}/pdf", {}, 3),
        ("prelievi chart", f"/prelievi?punto={electricity.code}", {**HTMX, "HX-Target": "content"}, 3),
        ("prelievi table", f"/prelievi?punto={electricity.code}&vista=tabella&anno=2025",
         {**HTMX, "HX-Target": "consumption-data"}, 3),
        ("misure chart", f"/misure?{period}", {**HTMX, "HX-Target": "measurements-data"}, 3),
        ("misure CSV", f"/misure/csv?{period}", {}, 3),
        ("documents", f"/documenti?punto={electricity.code}", {**HTMX, "HX-Target": "content"}, 3),
        ("readings", f"/autolettura?punto={gas.code}", {}, 5),
    ]


def test_every_customer_page_runs_a_fixed_number_of_statements(client, populated, queries):
    gas, electricity = populated
    for name, url, headers, budget in pages(gas, electricity):
        queries.clear()
        response = client.get(url, headers=headers)
        assert response.status_code == 200, name
        response.get_data()  # a streamed CSV queries while it is read
        assert len(queries) <= budget, (name, queries)


def test_adding_and_deleting_a_reading_runs_a_fixed_number_of_statements(client, populated, queries):
    gas, _ = populated
    headers = {**HTMX, "HX-Target": "reading-form"}
    queries.clear()
    response = client.post("/autolettura", headers=headers,
                           data={"punto": gas.code, "meter_reading": "200",
                                 "corrector_reading": "200", "conferma": "200|200"})
    assert response.status_code == 200 and "salvata" in response.text
    # user, points, the form token's first result, window, today's reading, one reference
    # (the last acquired reading has both registers), the insert and the token's record;
    # then the list: count, page, windows.
    assert len(queries) <= 11, queries
    delete_url = re.search(r'hx-post="(/autolettura/\d+/cancella)"', response.text).group(1)
    queries.clear()
    response = client.post(delete_url, headers=headers)
    assert response.status_code == 200 and response.text == ""
    # user, the reading, the conditional DELETE: no BEGIN and COMMIT around one statement.
    assert len(queries) <= 3, queries
    assert SelfReading.select().where(SelfReading.reading_date == models.rome_now().date()).count() == 0


postgresql_only = pytest.mark.skipif(not ON_POSTGRES, reason="round trips to PostgreSQL's "
                                                               "server (SQLite has none)")


@pytest.fixture
def round_trips(monkeypatch):
    """Every statement psycopg sends to the server, BEGIN, COMMIT and the pool's own
    included (Peewee's log shows only the queries)."""
    import psycopg
    sent = []
    execute = psycopg.Cursor.execute
    monkeypatch.setattr(psycopg.Cursor, "execute", lambda cursor, query, *args, **kwargs: (
        sent.append(query), execute(cursor, query, *args, **kwargs))[1])
    return sent


@postgresql_only
def test_a_pooled_postgresql_connection_serves_without_a_ping_and_a_dead_one_is_replaced(
        logged_in, client, round_trips):
    """A page takes its pooled connection without sending "SELECT 1" first; a connection
    the server has ended meanwhile (an administrator, a restart) is replaced, not an error."""
    assert client.get("/home").status_code == 200  # a connection now waits in the pool
    if not models.db.is_closed():
        models.db.close()
    round_trips.clear()
    response = client.get("/home")
    assert response.status_code == 200 and "Benvenuto" in response.text
    assert round_trips and "SELECT 1" not in round_trips  # every statement is the page's own

    with models.db.connection_context():
        ended = models.db.connection().info.backend_pid
    with _admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (ended,))
        for _ in range(500):  # the server ends the backend asynchronously
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                 (ended,)).fetchone():
                break
            time.sleep(0.01)
    response = client.get("/home")
    assert response.status_code == 200 and "Benvenuto" in response.text
    with models.db.connection_context():
        assert models.db.connection().info.backend_pid != ended


@postgresql_only
def test_deleting_a_reading_is_one_statement_without_a_transaction_around_it(
        client, populated, round_trips):
    gas, _ = populated
    headers = {**HTMX, "HX-Target": "reading-form"}
    response = client.post("/autolettura", headers=headers,
                           data={"punto": gas.code, "meter_reading": "200",
                                 "corrector_reading": "200", "conferma": "200|200"})
    delete_url = re.search(r'hx-post="(/autolettura/\d+/cancella)"', response.text).group(1)
    if not models.db.is_closed():
        models.db.close()
    round_trips.clear()
    response = client.post(delete_url, headers=headers)
    assert response.status_code == 200 and response.text == ""
    # the user, the reading, the DELETE (which commits on its own)
    assert len(round_trips) == 3 and round_trips[-1].startswith("DELETE"), round_trips
    assert not SelfReading.select().where(SelfReading.id == int(delete_url.split("/")[2])).exists()


def test_prepared_queries_check_their_parameters(app, customer):
    swapped = Prepared(lambda ident, version: Customer.select().where(
        (Customer.session_version == version) & (Customer.id == ident)))
    with pytest.raises(ValueError, match="not the arguments"):
        swapped(customer.id, 1)
    ordered = Prepared(lambda ident, version: Customer.select().where(
        (Customer.id == ident) & (Customer.session_version == version)).limit(1))
    assert ordered.first(customer.id, customer.session_version).code == customer.code
    assert ordered.first(customer.id, customer.session_version + 1) is None
    # Model instances with every value converted, as Peewee's own queries give them.
    point = models.SupplyPoint.of_customer(customer.id)[0]
    assert isinstance(point.technical_data, dict) and isinstance(point.has_corrector, bool)
