"""Holders over time: a supply point handed over by the billing system's files (a
voltura or subentro). The new holder never sees the previous holder's invoices, PDFs,
readings, billed periods or measurement intervals; the previous holder keeps their
own period, read-only."""
import datetime
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

import models
from app import create_app
from conftest import PASSWORD
from test_backoffice import staff, operator  # noqa: F401 (fixtures)
from models import (BilledConsumption, Customer, Holding, Invoice, Measurement, SelfReading,
                    SupplyPoint, rome_now)
from portal import holdings, timebands
from portal.passwords import hash_password
from test_exchange import import_ok, run_import, samples, write_csv  # noqa: F401 (fixture)

POINT_HEADER = ["code", "customer_code", "commodity", "pdr_pod", "address", "holder_since"]
INVOICE_HEADER = ["number", "supply_point_code", "date", "period_start", "period_end", "amount",
                  "due_date", "paid"]


def day_before(day, days=1):
    return day - datetime.timedelta(days=days)


class Handover:
    """Customer A held gas point G and electricity point E until `since`, when both
    passed to customer B through an import of supply_points."""

    def __init__(self, app, runner, factory, tmp_path):
        self.today = rome_now().date()
        self.since = day_before(self.today, 40)
        self.a = factory.customer(code="111111", name="PRIMO TITOLARE")
        self.b = factory.customer(code="222222", name="NUOVO TITOLARE")
        self.gas = factory.supply_point(self.a, "gas", code="PR700001",
                                        technical_data={"tech_meter_class": "G4"},
                                        contract_data={"contract_offer": "OFFERTA-DI-B"})
        self.power = factory.supply_point(self.a, "electricity", code="PR700002")
        before = day_before(self.since, 30)
        self.a_invoice = Invoice.create(
            number="FT-A-0001", supply_point=self.gas, date=before,
            period_start=day_before(before, 60), period_end=before, amount=Decimal("111.11"),
            due_date=before, paid=True, pdf_path="invoices/a.pdf")
        path = Path(app.config["FILES_DIR"]) / "invoices" / "a.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF PRIMO TITOLARE")
        BilledConsumption.create(supply_point=self.gas, period_start=day_before(before, 60),
                                 period_end=before, energy_total=9876543.0, unit="Smc")
        self.a_reading = SelfReading.create(supply_point=self.gas, reading_date=before,
                                            meter_reading=7654321, status=SelfReading.ACQUIRED)
        self.a_pending = SelfReading.create(supply_point=self.gas,
                                            reading_date=day_before(self.since),
                                            meter_reading=7654400)
        # One day of 15-minute data on each side of the handover.
        for day, energy in ((day_before(self.since), 0.111), (self.since, 0.222)):
            start = timebands.midnight_timestamp(day)
            Measurement.insert_many([(self.power.id, start + 900 * i, energy, None)
                                     for i in range(96)],
                                    fields=[Measurement.supply_point, Measurement.timestamp,
                                            Measurement.active_energy_kwh,
                                            Measurement.power_kw]).execute()

        rows = [[point.code, self.b.code, point.commodity, point.pdr_pod, point.address,
                 self.since.isoformat()] for point in (self.gas, self.power)]
        import_ok(runner, "supply_points", write_csv(tmp_path / "points.csv", POINT_HEADER, rows))
        # The billing system's next invoices: no customer_code, so each goes to whoever
        # held the point when its period started.
        after = self.today
        import_ok(runner, "invoices", write_csv(tmp_path / "invoices.csv", INVOICE_HEADER, [
            ["FT-B-0001", self.gas.code, after.isoformat(), self.since.isoformat(),
             after.isoformat(), "222,22", after.isoformat(), "0"],
            ["FT-A-0002", self.gas.code, day_before(self.since).isoformat(),
             day_before(self.since, 20).isoformat(), day_before(self.since).isoformat(),
             "333,33", after.isoformat(), "1"]]))
        BilledConsumption.create(supply_point=self.gas, period_start=self.since,
                                 period_end=self.today, energy_total=8765432.0, unit="Smc")
        self.b_reading = SelfReading.create(supply_point=self.gas, reading_date=self.today,
                                            meter_reading=6543210)


@pytest.fixture
def handover(app, runner, factory, tmp_path):
    return Handover(app, runner, factory, tmp_path)


def login(auth, customer):
    response = auth.login(customer.code)
    assert response.status_code == 303
    return auth.client


def test_the_import_records_who_held_the_point_when(handover):
    for point in (handover.gas, handover.power):
        assert [(h.customer.code, h.start_date, h.end_date) for h in holdings.history(point)] == [
            ("111111", None, handover.since), ("222222", handover.since, None)]
        assert SupplyPoint.get_by_id(point.id).customer_id == handover.b.id
    holders = dict(Invoice.select(Invoice.number, Customer.code).join(
        Customer, on=(Invoice.customer == Customer.id)).tuples())
    assert holders == {"FT-A-0001": "111111", "FT-A-0002": "111111", "FT-B-0001": "222222"}


def test_the_new_holder_never_sees_the_previous_holders_data(client, auth, handover):
    login(auth, handover.b)
    listing = client.get(f"/fatture?punto={handover.gas.code}").get_data(as_text=True)
    assert "FT-B-0001" in listing
    assert "FT-A-0001" not in listing and "FT-A-0002" not in listing
    for invoice in Invoice.select().where(Invoice.number.startswith("FT-A")):
        assert client.get(f"/fatture/{invoice.id}/pdf?punto={handover.gas.code}").status_code == 404
    readings = client.get(f"/autolettura?punto={handover.gas.code}").get_data(as_text=True)
    assert "6.543.210" in readings and "7.654.321" not in readings and "7.654.400" not in readings
    for reading in (handover.a_reading, handover.a_pending):
        assert client.get(f"/autolettura/{reading.id}/cancella").status_code == 404
        assert client.post(f"/autolettura/{reading.id}/cancella").status_code == 404
    assert SelfReading.get_or_none(SelfReading.id == handover.a_pending.id) is not None
    for year in {handover.since.year, day_before(handover.since, 90).year}:
        table = client.get(f"/prelievi?punto={handover.gas.code}&anno={year}&vista=tabella")
        assert "9.876.543" not in table.get_data(as_text=True)
        csv = client.get(f"/prelievi/csv?punto={handover.gas.code}&anno={year}")
        assert "9876543" not in csv.get_data(as_text=True)
        assert "9.876.543" not in csv.get_data(as_text=True)
    # Measurements: asked across the handover, only the new holder's day comes back.
    asked = dict(punto=handover.power.code, dal=day_before(handover.since, 3).isoformat(),
                 al=handover.since.isoformat())
    csv = client.get("/misure/csv", query_string=asked).get_data(as_text=True)
    assert "0,222" in csv and "0,111" not in csv
    page = client.get("/misure", query_string=asked).get_data(as_text=True)
    assert "22,2" in page or "21,3" in page or "0,222" in page or "kWh" in page
    before = dict(asked, al=day_before(handover.since).isoformat())
    refused = client.get("/misure/csv", query_string=before)
    assert refused.status_code == 422
    assert "titolare del punto (dal" in refused.get_data(as_text=True)
    export = json.loads(client.get("/dati-anagrafici/esporta").get_data(as_text=True))
    text = json.dumps(export)
    assert "FT-B-0001" in text and "FT-A-0001" not in text and "7654321" not in text
    assert "9876543" not in text


def test_the_previous_holder_keeps_their_period_read_only(client, auth, handover):
    login(auth, handover.a)
    home = client.get(f"/home?punto={handover.gas.code}").get_data(as_text=True)
    ceased = f"cessato dal {handover.since:%d/%m/%Y}"
    assert ceased in home and "Fornitura cessata dal" in home
    # The picker says so right after the street, before a narrow phone cuts the option.
    assert f"VIA DEI POGGI 5 ({ceased}) · Gas {handover.gas.code}" in home
    listing = client.get(f"/fatture?punto={handover.gas.code}").get_data(as_text=True)
    assert "FT-A-0001" in listing and "FT-A-0002" in listing and "FT-B-0001" not in listing
    assert client.get(f"/fatture/{handover.a_invoice.id}/pdf").data == b"%PDF PRIMO TITOLARE"
    b_invoice = Invoice.get(Invoice.number == "FT-B-0001")
    assert client.get(f"/fatture/{b_invoice.id}/pdf").status_code == 404

    readings = client.get(f"/autolettura?punto={handover.gas.code}").get_data(as_text=True)
    assert "7.654.321" in readings and "7.654.400" in readings and "6.543.210" not in readings
    assert "Aggiungi" not in readings and "reading-delete" not in readings
    assert "consentito nei seguenti periodi" not in readings  # their windows are over
    count = SelfReading.select().count()
    refused = client.post("/autolettura", data={"punto": handover.gas.code,
                                                "meter_reading": "4500"})
    assert refused.status_code == 422
    assert "non puoi più inserire né cancellare autoletture" in refused.get_data(as_text=True)
    assert SelfReading.select().count() == count
    kept = client.post(f"/autolettura/{handover.a_pending.id}/cancella", follow_redirects=True)
    assert "non può più essere cancellata" in kept.get_data(as_text=True)
    assert SelfReading.get_or_none(SelfReading.id == handover.a_pending.id) is not None
    assert client.get(f"/autolettura/{handover.b_reading.id}/cancella").status_code == 404

    for year in {handover.since.year, handover.today.year}:
        table = client.get(f"/prelievi?punto={handover.gas.code}&anno={year}&vista=tabella")
        assert "8.765.432" not in table.get_data(as_text=True)
    contract = client.get(f"/dati-contrattuali?punto={handover.gas.code}").get_data(as_text=True)
    assert "OFFERTA-DI-B" not in contract and "Fornitura cessata dal" in contract
    assert "G4" not in client.get(f"/dati-tecnici?punto={handover.gas.code}").get_data(as_text=True)

    asked = dict(punto=handover.power.code, dal=day_before(handover.since, 3).isoformat(),
                 al=handover.today.isoformat())
    csv = client.get("/misure/csv", query_string=asked).get_data(as_text=True)
    assert "0,111" in csv and "0,222" not in csv
    after = dict(asked, dal=handover.since.isoformat())
    assert client.get("/misure/csv", query_string=after).status_code == 422
    # By default the page shows the last week the customer held the point.
    page = client.get(f"/misure?punto={handover.power.code}").get_data(as_text=True)
    assert f'value="{day_before(handover.since):%Y-%m-%d}"' in page


CUSTOMER_ROUTES_WITH_IDS = ["/fatture/{invoice}/pdf", "/autolettura/{reading}/cancella"]


@pytest.mark.parametrize("who", ["new", "previous"])
def test_every_customer_route_with_the_other_holders_ids(app, client, auth, handover, who):
    """Every customer page and download on both points, as each holder, with the other
    holder's ids: 404 for the ids, and none of the other's figures anywhere."""
    # Numbers of seven digits: no timestamp (microseconds have six) can hold them.
    me, other_marks = ((handover.b, ["FT-A-0001", "FT-A-0002", "7.654.321", "7654321", "9.876.543",
                                     "9876543", "0,111"])
                       if who == "new" else
                       (handover.a, ["FT-B-0001", "6.543.210", "6543210", "8.765.432", "8765432",
                                     "0,222", "OFFERTA-DI-B"]))
    login(auth, me)
    theirs = (dict(invoice=handover.a_invoice.id, reading=handover.a_reading.id) if who == "new"
              else dict(invoice=Invoice.get(Invoice.number == "FT-B-0001").id,
                        reading=handover.b_reading.id))
    for template in CUSTOMER_ROUTES_WITH_IDS:
        url = template.format(**theirs)
        assert client.get(url).status_code == 404, url
    rules = [rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments
             and not rule.endpoint.startswith(("backoffice.", "static", "auth.", "charts."))]
    assert len(rules) >= 15
    span = dict(dal=day_before(handover.since, 3).isoformat(), al=handover.today.isoformat())
    for rule in rules:
        for point in (handover.gas, handover.power):
            for extra in ({}, span, {"vista": "tabella"}):
                response = client.get(rule.rule, query_string={"punto": point.code, **extra})
                assert response.status_code < 500, rule.rule
                body = response.get_data(as_text=True)
                for mark in other_marks:
                    assert mark not in body, (rule.rule, point.code, extra, mark)


def test_a_handover_must_start_after_the_current_holding(runner, factory, tmp_path):
    a, b, c = (factory.customer(code=code) for code in ("111111", "222222", "333333"))
    point = factory.supply_point(a, "gas", code="PR700009")
    since = day_before(rome_now().date(), 10)
    row = [point.code, b.code, "gas", point.pdr_pod, point.address, since.isoformat()]
    import_ok(runner, "supply_points", write_csv(tmp_path / "1.csv", POINT_HEADER, [row]))
    for start, message in ((since, "is not after"), (day_before(since), "is not after"),
                           (rome_now().date() + datetime.timedelta(days=1), "in the future")):
        moved = [point.code, c.code, "gas", point.pdr_pod, point.address, start.isoformat()]
        result = run_import(runner, "supply_points",
                            write_csv(tmp_path / "2.csv", POINT_HEADER, [moved]))
        assert result.exit_code != 0 and message in result.output
    assert [h.customer_id for h in holdings.history(point)] == [a.id, b.id]
    # Without holder_since the new holding starts on the day of the import.
    moved = [point.code, c.code, "gas", point.pdr_pod, point.address, ""]
    import_ok(runner, "supply_points", write_csv(tmp_path / "3.csv", POINT_HEADER, [moved]))
    assert holdings.history(point)[-1].start_date == rome_now().date()
    # An invoice may name only a customer who held the point.
    stranger = factory.customer(code="444444")
    line = ["FT-X-1", point.code, "2024-03-01", "2024-01-01", "2024-02-29", "10", "2024-03-20",
            "0", stranger.code]
    result = run_import(runner, "invoices", write_csv(tmp_path / "i.csv",
                                                      INVOICE_HEADER + ["customer_code"], [line]))
    assert result.exit_code != 0 and "never held supply point PR700009" in result.output
    line[-1] = a.code
    import_ok(runner, "invoices", write_csv(tmp_path / "i.csv", INVOICE_HEADER + ["customer_code"],
                                            [line]))
    assert Invoice.get(Invoice.number == "FT-X-1").customer_id == a.id


def test_back_office_shows_the_holders_of_each_point(handover, staff):
    operator_client = staff
    previous = operator_client.get(f"/operatore/clienti/{handover.a.code}").get_data(as_text=True)
    assert f"Cessato dal {handover.since:%d/%m/%Y}" in previous
    assert "222222 NUOVO TITOLARE" in previous
    assert f"al {day_before(handover.since):%d/%m/%Y}" in previous
    current = operator_client.get(f"/operatore/clienti/{handover.b.code}").get_data(as_text=True)
    assert f"dal {handover.since:%d/%m/%Y}" in current and "In corso" in current
    assert "111111 PRIMO TITOLARE" in current
    invoices = operator_client.get(f"/operatore/clienti/{handover.b.code}/fatture")
    assert "FT-B-0001" in invoices.get_data(as_text=True)
    assert "FT-A-0001" not in invoices.get_data(as_text=True)


@pytest.mark.sqlite_only
def test_migration_gives_each_point_one_holding_from_its_earliest_data(tmp_path):
    """A database made by schema version 2 (today's schema before this change) keeps
    all its rows; each point gets its customer's holding since its first datum."""
    path = tmp_path / "v2.db"
    connection = sqlite3.connect(path)
    connection.executescript((Path(__file__).parent / "data" / "schema-v2.sql").read_text())
    connection.close()
    application = create_app({"TESTING": True, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False,
                              "RATELIMIT_ENABLED": False, "DATABASE_URL": f"sqlite:///{path}"})
    result = application.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert f"migrated from version 2 to {models.SCHEMA_VERSION}" in result.output
    with application.app_context(), models.db.connection_context():
        customer = Customer.get(Customer.code == "111111")
        starts = {h.supply_point.code: (h.customer_id, h.start_date, h.end_date)
                  for h in Holding.select()}
        assert starts == {"PR000101": (customer.id, datetime.date(2018, 11, 1), None),
                          "PR000102": (customer.id, datetime.date(2024, 1, 1), None),
                          "PR000103": (customer.id, None, None)}
        assert {i.customer_id for i in Invoice.select()} == {customer.id}
        assert {r.customer_id for r in SelfReading.select()} == {customer.id}
        assert Measurement.select().count() == 4 and BilledConsumption.select().count() == 2
        customer.password_hash = hash_password(PASSWORD)
        customer.save()
    client = application.test_client()
    assert client.post("/login", data={"code": "111111", "password": PASSWORD}).status_code == 303
    for url, mark in (("/fatture?punto=PR000101", "FT2019-000001"),
                      ("/fatture?punto=PR000102", "FT2024-000002"),
                      ("/autolettura?punto=PR000101", "1.234"),
                      ("/prelievi?punto=PR000101&anno=2018&vista=tabella", "300"),
                      ("/misure/csv?punto=PR000102&dal=2024-01-01&al=2024-01-01", "0,100")):
        body = client.get(url).get_data(as_text=True)
        assert mark in body, url


def test_the_sample_change_of_holder_imports(runner, samples):
    """samples/holders: PR100103 passes from 200102 to 200101 on 01/03/2024; the
    invoice before goes to 200102 (named), the one after to 200101 (by its period)."""
    for kind in ("customers", "supply_points"):
        import_ok(runner, kind, samples / f"{kind}.csv")
    import_ok(runner, "supply_points", samples / "holders" / "supply_points-voltura.csv")
    import_ok(runner, "invoices", samples / "holders" / "invoices-voltura.csv")
    point = SupplyPoint.get(SupplyPoint.code == "PR100103")
    assert [(h.customer.code, h.start_date) for h in holdings.history(point)] == [
        ("200102", None), ("200101", datetime.date(2024, 3, 1))]
    holders = {invoice.number: invoice.customer.code
               for invoice in Invoice.select().where(Invoice.supply_point == point)}
    assert holders == {"FT2024-000201": "200102", "FT2024-000202": "200101"}
