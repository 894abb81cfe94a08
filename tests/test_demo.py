"""Demo data: valid Italian identifiers, the two scripted customers, coherent billing,
measurements and readings, real files, refusal on a non-empty database, reproducibility.

Self-contained: builds its own databases (SQLite files, or PostgreSQL schemas when
TEST_DATABASE_URL names one), uses no conftest fixture."""
import datetime
import re
from decimal import Decimal

import pytest
from stdnum.it import codicefiscale, iva

from portal.demo import common, people, small
import models
from portal import holdings, passwords
from portal import tickets as tickets_rules
from conftest import database_url_for, drop_schemas
from models import (
    BilledConsumption,
    Customer,
    Document,
    Form,
    Invoice,
    Measurement,
    ReadingWindow,
    SelfReading,
    SupplyPoint,
    Ticket,
    TicketMessage,
)

# A full default-size generation runs once for the module: half a minute or more.
pytestmark = pytest.mark.slow

POD = re.compile(r"IT\d{3}E\d{8}")
ADDRESS = re.compile(r"[A-Z0-9 '.,/]+ - \d{5} [A-Z' ]+ \([A-Z]{2}\)")


def _open_database(path, **schemas):
    database = models.open_database(database_url_for(path, **schemas))
    models.db.initialize(database)
    database.connect()
    models.init_schema()
    return database


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One full default-size generation shared by the module (it takes a while)."""
    directory = tmp_path_factory.mktemp("demo")
    schemas = []  # dropped with the module, not after its first test
    database = _open_database(directory, schemas=schemas)
    lines = []
    today = models.rome_now().date()  # what generate() defaults to
    summary = small.generate(directory / "files", customers=50, log=lines.append)
    yield {"database": database, "summary": summary, "files": directory / "files",
           "log": lines, "today": today}
    database.close()
    drop_schemas(schemas)


@pytest.fixture
def data(generated):
    # The reproducibility test binds other databases: every test rebinds this one.
    models.db.initialize(generated["database"])
    return generated


def _customer(code):
    return Customer.get(Customer.code == code)


def _point(code):
    return SupplyPoint.get(SupplyPoint.code == code)


def test_codice_fiscale_and_partita_iva_check_characters():
    # The Agenzia delle Entrate's own example, and a partita IVA from its documents.
    assert people._codice_fiscale("ROSSI", "MARIO", datetime.date(1985, 12, 10), False,
                                  "A562") == "RSSMRA85T10A562S"
    assert people._partita_iva(74311, "015") == "00743110157"
    assert people._codice_fiscale("DE LUCA", "ANNA", datetime.date(1970, 1, 5), True,
                                  "G702")[:11] == "DLCNNA70A45"


def test_summary_counts_every_table_and_the_log_tells_how_to_demo(data):
    models_filled = (Customer, SupplyPoint, Invoice, BilledConsumption, Measurement, Document,
                     Form, ReadingWindow, SelfReading, Ticket, TicketMessage, models.NoticeOptOut,
                     models.PaymentReport)
    assert data["summary"] == {model.__name__: model.select().count() for model in models_filled}
    assert any("invoices" in line for line in data["log"])
    identities = "\n".join(data["log"][-3:])
    assert f"customer 123456 ROSSI MARIO, codice fiscale {people.HOUSEHOLD_TAX_CODE}" in identities
    assert f"partita IVA {people.COMPANY_TAX_CODE}: password {common.DEMO_PASSWORD}" in identities


def test_customers_have_valid_tax_codes_and_italian_contacts(data):
    customers = list(Customer.select())
    assert len(customers) >= 50
    companies = [customer for customer in customers if customer.is_company]
    assert 0.2 <= len(companies) / len(customers) <= 0.4
    for customer in customers:
        assert re.fullmatch(r"\d{6}", customer.code)
        assert ADDRESS.fullmatch(customer.address), customer.address
        assert re.fullmatch(r"\d{3,4} \d{6,7}", customer.phone), customer.phone
        assert customer.email == "" or re.fullmatch(r"[a-z0-9.]+@example\.(it|com)", customer.email)
        if customer.is_company:
            assert re.search(r"S\.(R\.L|P\.A|N\.C|A\.S)\.$", customer.name)
            assert iva.validate(customer.tax_code)
        else:
            assert len(customer.tax_code) == 16
            assert codicefiscale.validate(customer.tax_code)
    assert len({customer.code for customer in customers}) == len(customers)
    assert len({customer.tax_code for customer in customers}) == len(customers)


def test_supply_points_have_valid_identifiers_and_data(data):
    points = list(SupplyPoint.select())
    gas = [point for point in points if point.is_gas]
    assert gas and len(gas) < len(points)
    for point in points:
        assert re.fullmatch(r"PR\d{6}", point.code)
        assert ADDRESS.fullmatch(point.address), point.address
        assert point.technical_data and all(key.startswith("tech_") for key in point.technical_data)
        assert point.contract_data
        assert all(key.startswith("contract_") for key in point.contract_data)
        assert point.expected_annual_consumption > 0
        if point.is_gas:
            assert re.fullmatch(r"\d{14}", point.pdr_pod)
            assert point.meter_digits in (5, 6)
        else:
            assert POD.fullmatch(point.pdr_pod)
            assert not point.has_corrector
            assert point.technical_data["tech_phase"] in ("Monofase", "Trifase")
    assert 0.2 <= sum(point.has_corrector for point in gas) / len(gas) <= 0.45
    assert len({point.pdr_pod for point in points}) == len(points)


def test_customer_123456_is_the_unregistered_household_of_the_guide(data):
    rossi = _customer("123456")
    assert not rossi.is_company and not rossi.is_registered
    assert rossi.password_hash is None
    assert rossi.email == "mario.rossi@example.it"
    assert codicefiscale.validate(rossi.tax_code)
    assert rossi.tax_code == people.HOUSEHOLD_TAX_CODE
    gas = _point("PR002874")
    assert gas.customer_id == rossi.id
    assert gas.label == ("PR002874 (Pdr: 03340009749021); "
                         "VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)")
    assert (gas.commodity, gas.has_corrector, gas.meter_digits) == ("gas", True, 5)
    assert 1000 <= gas.expected_annual_consumption <= 1400
    power = _point("PR002875")
    assert power.customer_id == rossi.id and power.is_electricity
    assert POD.fullmatch(power.pdr_pod) and power.address == gas.address
    assert 2400 <= power.expected_annual_consumption <= 3000


def test_customer_654321_is_the_registered_company(data):
    company = _customer("654321")
    assert company.is_company and company.name.endswith("S.R.L.")
    assert iva.validate(company.tax_code)
    assert company.is_registered
    assert passwords.verify_password(company.password_hash, common.DEMO_PASSWORD)
    assert company.previous_login_at < company.last_login_at < models.utcnow()
    points = list(company.supply_points_in_order())
    gas = [point for point in points if point.is_gas]
    assert len(gas) >= 2
    assert {point.has_corrector for point in gas} == {True, False}
    assert any(point.is_electricity for point in points)
    assert company.tax_code == people.COMPANY_TAX_CODE


def test_the_company_chose_bolletta_web_and_the_household_nothing_yet(data):
    company, household = _customer("654321"), _customer("123456")
    assert company.paperless
    assert company.paperless_changed_at.date() == data["today"] - datetime.timedelta(days=90)
    assert [row.kind for row in company.notice_opt_outs] == ["reading_windows"]
    assert not household.paperless and household.paperless_changed_at is None
    assert not list(household.notice_opt_outs)


def test_other_registered_customers_use_the_demo_password(data):
    registered = list(Customer.select().where(Customer.registered_at.is_null(False)
                                              & (Customer.code != "654321")))
    assert 1 <= len(registered) <= 10
    assert passwords.verify_password(registered[0].password_hash, common.DEMO_PASSWORD)
    assert Customer.select().where(Customer.registered_at.is_null()
                                   & Customer.password_hash.is_null(False)).count() == 0


def test_invoices_span_2014_to_today_with_sequential_numbers(data):
    today = data["today"]
    invoices = list(Invoice.select())
    assert min(invoice.period_start for invoice in invoices) == datetime.date(2014, 1, 1)
    assert today - datetime.timedelta(days=45) <= max(invoice.date for invoice in invoices) <= today
    numbers = {}
    for invoice in invoices:
        match = re.fullmatch(r"FT(\d{4})-(\d{6})", invoice.number)
        assert match and int(match[1]) == invoice.date.year
        numbers.setdefault(invoice.date.year, []).append(int(match[2]))
        assert invoice.period_end < invoice.date <= invoice.period_end + datetime.timedelta(days=12)
        assert invoice.due_date == invoice.date + datetime.timedelta(days=20)
        assert invoice.amount > 0 and invoice.amount == invoice.amount.quantize(Decimal("0.01"))
    for year_numbers in numbers.values():
        assert sorted(year_numbers) == list(range(1, len(year_numbers) + 1))


def test_households_are_billed_every_two_months_and_companies_monthly(data):
    household = list(Invoice.for_supply_point(_point("PR002874"), _point("PR002874").customer))
    company = list(Invoice.for_supply_point(_point("PR004412"), _point("PR004412").customer))
    def lengths(invoices):
        return {(invoice.period_end - invoice.period_start).days + 1 for invoice in invoices}

    assert lengths(household) <= {59, 60, 61, 62}
    assert lengths(company) <= {28, 29, 30, 31}
    # Paid but for the last one or two; some of them are already overdue.
    assert not household[0].paid and all(invoice.paid for invoice in household[2:])
    assert any(invoice.status == "Scaduta" for invoice in Invoice.select().where(~Invoice.paid))


def test_most_invoices_have_a_pdf_with_the_customer_code_under_the_number(data):
    invoices = list(Invoice.select())
    with_pdf = [invoice for invoice in invoices if invoice.pdf_path]
    assert 0.85 <= len(with_pdf) / len(invoices) < 1
    for invoice in with_pdf[::97]:
        assert re.fullmatch(r"invoices/\d{4}/FT\d{4}-\d{6}\.pdf", invoice.pdf_path)
        assert (data["files"] / invoice.pdf_path).read_bytes().startswith(b"%PDF")
    latest = Invoice.for_supply_point(_point("PR002874"), _point("PR002874").customer).first()
    content = (data["files"] / latest.pdf_path).read_bytes()
    heading = f"(Fattura n. {latest.number} del {latest.date:%d/%m/%Y}) Tj".encode()
    code = b"(Codice cliente: 123456) Tj"
    assert heading in content and code in content
    # Nothing is printed between the number/date line and the customer code.
    between = content[content.index(heading) + len(heading):content.index(code)]
    assert b"Tj" not in between
    total = f"{latest.amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    # "€" is byte 0x80 in the WinAnsiEncoding of the standard fonts.
    assert f"(Totale da pagare {total} ".encode() + b"\x80) Tj" in content
    assert b"ROSSI MARIO" in content and b"03340009749021" in content


def test_billed_consumption_follows_the_invoices(data):
    assert BilledConsumption.select().count() == Invoice.select().count()
    rows = list(BilledConsumption
                .select(BilledConsumption, Customer.is_company)
                .join(SupplyPoint)
                .join(Customer)
                .where(SupplyPoint.commodity == "electricity")
                .objects())
    for row in rows:
        assert row.unit == "kWh"
        assert row.energy_f1 + row.energy_f2 + row.energy_f3 == row.energy_total
        assert row.max_power > 0
    households = [row for row in rows if not row.is_company]
    share = sum(row.energy_f1 / row.energy_total for row in households) / len(households)
    assert 0.33 <= share <= 0.47
    gas = {row.period_start: row for row in BilledConsumption.for_supply_point(_point("PR002874"))}
    assert all(row.unit == "Smc" and row.energy_f1 is None for row in gas.values())
    for year in range(2014, data["today"].year):
        winter, summer = gas[datetime.date(year, 1, 1)], gas[datetime.date(year, 7, 1)]
        assert winter.energy_total > 4 * summer.energy_total


def test_measurements_cover_two_years_in_quarter_hours(data):
    today = data["today"]
    point = _point("PR002875")
    timestamps = [timestamp for (timestamp,) in Measurement
                  .select(Measurement.timestamp)
                  .where(Measurement.supply_point == point)
                  .order_by(Measurement.timestamp)
                  .tuples()]
    midnight = datetime.datetime.combine(today, datetime.time(), models.ROME)
    two_years_ago = datetime.datetime.combine(common._add_months(today, -24), datetime.time(),
                                              models.ROME)
    assert timestamps[0] == int(two_years_ago.timestamp())
    assert timestamps[-1] == int(midnight.timestamp()) - 900
    steps = [later - earlier for earlier, later in zip(timestamps, timestamps[1:])]
    assert all(step % 900 == 0 for step in steps)
    gaps = [step for step in steps if step > 900]
    assert 1 <= len(gaps) <= 3 and max(gaps) <= 7 * 3600
    assert len(timestamps) > 0.99 * (timestamps[-1] - timestamps[0]) / 900
    sample = Measurement.select().where(Measurement.supply_point == point).limit(200)
    assert all(abs(row.power_kw - 4 * row.active_energy_kwh) < 0.002 for row in sample)
    measured = {point_id for (point_id,)
                in Measurement.select(Measurement.supply_point).distinct().tuples()}
    assert _point("PR004412").id in measured and len(measured) <= 6
    assert Measurement.select().where(Measurement.supply_point.in_(
        SupplyPoint.select(SupplyPoint.id).where(SupplyPoint.commodity == "gas"))).count() == 0


def test_the_guide_reading_window_is_always_open(data):
    window = ReadingWindow.get(ReadingWindow.start_at == datetime.datetime(2010, 2, 11, 8, 0))
    assert window.supply_point is None
    assert window.end_at == datetime.datetime(2099, 2, 14, 22, 0)
    assert ReadingWindow.select().count() >= 3
    assert ReadingWindow.open_at(_point("PR002874"), models.rome_now()) is not None


def test_self_readings_are_consistent_meter_positions(data):
    today = data["today"]
    statuses = {status for (status,) in SelfReading.select(SelfReading.status).distinct().tuples()}
    assert statuses == {SelfReading.PENDING, SelfReading.ACQUIRED}
    guide = list(SelfReading.for_supply_point(_point("PR002874"), _point("PR002874").customer))
    assert guide[0].is_pending and guide[0].reading_date < today
    assert all(reading.reading_date != today for reading in guide)
    assert len(guide) >= 12
    outcomes = {reading.outcome for reading in SelfReading.select()}
    assert {"validata", "scartata"} <= outcomes
    rejected = SelfReading.get(SelfReading.outcome == "scartata")
    assert rejected.outcome_reason == "Lettura inferiore alla precedente"
    for point in SupplyPoint.select().where(SupplyPoint.commodity == "gas"):
        # The meter runs on across a change of holder: every holder's readings.
        readings = [reading for reading in SelfReading.select()
                    .where(SelfReading.supply_point == point).order_by(SelfReading.reading_date)
                    if reading.outcome != "scartata"]
        for earlier, later in zip(readings, readings[1:]):
            assert earlier.meter_reading <= later.meter_reading
            if point.has_corrector:
                assert earlier.corrector_reading <= later.corrector_reading
        for reading in readings:
            assert reading.meter_reading < 10 ** point.meter_digits
            assert (reading.corrector_reading is not None) == point.has_corrector
            assert (reading.acquired_at is not None) == (reading.status == SelfReading.ACQUIRED)


def test_documents_and_forms_are_real_pdfs(data):
    for customer in Customer.select():
        documents = list(Document.for_customer(customer))
        assert 1 <= len(documents) <= 3
        for document in documents:
            assert document.file_path.startswith(f"documents/{customer.code}/")
            assert (data["files"] / document.file_path).read_bytes().startswith(b"%PDF")
    titles = {form.title for form in Form.select()}
    assert {"Modulo di reclamo", "Domiciliazione bancaria SEPA", "Voltura contratto"} <= titles
    assert 4 <= len(titles) <= 6
    for form in Form.select():
        assert (data["files"] / form.file_path).read_bytes().startswith(b"%PDF")


def test_tickets_give_the_company_two_threads_and_the_back_office_a_queue(data):
    company = _customer("654321")
    working, overdue, late, closed = Ticket.for_customer(company)  # newest activity first
    # The company's complaint is past its 30 days without an answer: first in the queue.
    assert (overdue.kind, overdue.answered_at) == ("reclamo", None)
    assert overdue.due_on < models.rome_now().date()
    assert next(iter(tickets_rules.inbox())).id == overdue.id
    assert closed.kind == "rettifica" and closed.answered_at is not None
    # One case each answered after its deadline: the customer's page shows the indemnity.
    assert tickets_rules.lateness(late) == ("answered-late", 30) and late.kind == "reclamo"
    household_late = Ticket.get((Ticket.customer == _customer("123456")) & (Ticket.kind == "doppia"))
    assert tickets_rules.lateness(household_late) == ("answered-late", 30)
    household = Ticket.get((Ticket.customer == _customer("123456")) & (Ticket.kind == "reclamo"))
    assert household.code.startswith("CW-") and household.kind == "reclamo"
    assert models.PublicComplaint.get(models.PublicComplaint.ticket == household).status == "matched"
    assert tickets_rules.unmatched_complaints().count() == 1
    assert Ticket.select().where(Ticket.code.is_null()).count() == 0
    assert (working.status, working.category) == (Ticket.IN_PROGRESS, "Letture")
    assert (closed.status, closed.category) == (Ticket.CLOSED, "Fatturazione")
    assert working.supply_point.customer_id == company.id
    thread = list(working.messages.order_by(TicketMessage.created_at))
    assert [(m.from_customer, m.internal) for m in thread] == [
        (True, False), (False, True), (False, False)]
    assert working.updated_at == thread[-1].created_at
    others = Ticket.select().join(Customer).where(Customer.code.not_in(common.FIXED_CUSTOMERS))
    registered = Customer.select().where(Customer.registered_at.is_null(False)
                                         & Customer.code.not_in(common.FIXED_CUSTOMERS))
    assert others.count() == min(6, registered.count()) > 0
    now = models.utcnow()
    for ticket in others:
        assert ticket.status == Ticket.OPEN and ticket.customer.registered_at is not None
        assert ticket.supply_point.customer_id == ticket.customer_id
        assert [m.from_customer for m in ticket.messages] == [True]
    assert TicketMessage.select().where(TicketMessage.created_at > now).count() == 0


def test_a_second_run_is_refused(data, tmp_path):
    customers = Customer.select().count()
    with pytest.raises(RuntimeError, match="already has"):
        small.generate(tmp_path, log=lambda message: None)
    assert Customer.select().count() == customers
    assert not (tmp_path / "invoices").exists()


def _read_back(files_dir):
    """What reproducibility is about, read from the bound database and files_dir
    (invoice PDFs and measurements left out: the quick runs skip them)."""
    return {
        "customers": list(Customer.select(
            Customer.code, Customer.name, Customer.tax_code, Customer.address, Customer.phone,
            Customer.fax, Customer.email, Customer.registered_at, Customer.last_login_at)
            .order_by(Customer.code).tuples()),
        "points": [(point.code, point.pdr_pod, point.meter_serial, point.has_corrector,
                    point.meter_digits, point.technical_data, point.contract_data)
                   for point in SupplyPoint.select().order_by(SupplyPoint.code)],
        "invoices": list(Invoice.select(Invoice.number, Invoice.date, Invoice.period_start,
                                        Invoice.amount, Invoice.paid)
                         .order_by(Invoice.number).tuples()),
        "consumption": list(BilledConsumption.select(
            BilledConsumption.period_start, BilledConsumption.energy_f1,
            BilledConsumption.energy_total, BilledConsumption.max_power)
            .order_by(BilledConsumption.id).tuples()),
        "readings": list(SelfReading.select(
            SelfReading.reading_date, SelfReading.meter_reading, SelfReading.corrector_reading,
            SelfReading.status, SelfReading.outcome).order_by(SelfReading.id).tuples()),
        "windows": list(ReadingWindow
                        .select(ReadingWindow.start_at, ReadingWindow.end_at)
                        .tuples()),
        "files": {path.relative_to(files_dir).as_posix(): path.read_bytes()
                  for folder in ("documents", "forms")
                  for path in sorted((files_dir / folder).rglob("*.pdf"))},
    }


def _quick_generation(directory, today, seed=small.DEFAULT_SEED, customers=50):
    """generate() into a fresh database without invoice PDFs and measurement rows."""
    directory.mkdir()
    database = _open_database(directory)
    try:
        small.generate(directory / "files", seed=seed, today=today, customers=customers,
                       pdfs=False, measurements=False, log=lambda message: None)
        assert Measurement.select().count() == 0
        assert Invoice.select().where(Invoice.pdf_path.is_null(False)).count() == 0
        return _read_back(directory / "files")
    finally:
        database.close()


def test_the_same_seed_gives_the_same_data(data, tmp_path):
    full = _read_back(data["files"])
    # Skipping PDFs and measurements changes nothing else, files included.
    assert _quick_generation(tmp_path / "same", data["today"]) == full
    # The fixed customers stay, everybody else changes with the seed.
    other = _quick_generation(tmp_path / "other", data["today"], seed=1, customers=4)
    assert {code for code, *_ in other["customers"]} & {code for code, *_ in full["customers"]} \
        == set(common.FIXED_CUSTOMERS)


def test_one_point_changed_holder(data):
    """PR004413 was BIANCHI LUCIA's until HANDOVER_MONTHS ago, then 654321's: each
    invoice, its PDF and each reading belong to who held the point then."""
    point = _point(common.HANDOVER_POINT)
    previous = Customer.get(Customer.code == common.PREVIOUS_HOLDER_CODE)
    since = common._add_months(data["today"].replace(day=1), -common.HANDOVER_MONTHS)
    history = [(holding.customer.code, holding.start_date, holding.end_date)
               for holding in holdings.history(point)]
    assert history == [(common.PREVIOUS_HOLDER_CODE, None, since),
                       (common.COMPANY_CODE, since, None)]
    theirs = list(Invoice.for_supply_point(point, previous))
    ours = list(Invoice.for_supply_point(point, point.customer))
    assert theirs and ours
    assert all(invoice.period_start < since for invoice in theirs)
    assert all(invoice.period_start >= since for invoice in ours)
    for invoice, name in ((theirs[0], b"BIANCHI LUCIA"), (ours[-1], b"TERMOMECCANICA")):
        if invoice.pdf_path:
            assert name in (data["files"] / invoice.pdf_path).read_bytes()
    readings = list(SelfReading.select().where(SelfReading.supply_point == point))
    assert {reading.customer_id == previous.id for reading in readings} == {True, False}
    assert all((reading.reading_date < since) == (reading.customer_id == previous.id)
               for reading in readings)


def test_fixed_customers_show_readings_from_every_channel(data):
    """123456 and 654321: a reading taken by phone, a meter photo on disk (a real
    JPEG), and a last gas bill resting on an estimate; periods of every kind."""
    for code in ("123456", "654321"):
        customer = _customer(code)
        readings = list(SelfReading.select().where(SelfReading.customer == customer))
        assert any(reading.channel == "telefono" and reading.operator for reading in readings)
        photos = [reading.photo_path for reading in readings if reading.photo_path]
        assert photos and (data["files"] / photos[0]).read_bytes().startswith(b"\xff\xd8\xff")
        gas = [point for point in SupplyPoint.of_customer(customer.id) if point.is_gas]
        last = (BilledConsumption.select().where(BilledConsumption.supply_point == gas[0])
                .order_by(BilledConsumption.period_start.desc()).first())
        assert last.reading_kind == "stimata"
    kinds = {row.reading_kind for row in BilledConsumption.select(BilledConsumption.reading_kind)}
    assert kinds == {"letta", "autolettura", "stimata"}


def test_demo_customers_have_an_invoice_of_every_way_to_pay(data):
    """123456 and 654321 show pagoPA, a payment link, direct debit and transfer only."""
    from models import DirectDebitMandate
    ways = {}
    for invoice in Invoice.select().join(Customer, on=(Invoice.customer == Customer.id)).where(
            Customer.code.in_(["123456", "654321"]) & (Invoice.paid == False)):  # noqa: E712
        kind = ("pagopa" if invoice.pagopa_notice else "link" if invoice.payment_link
                else "direct_debit" if invoice.direct_debit_iban else "transfer")
        ways.setdefault(invoice.customer.code, set()).add(kind)
    assert ways["123456"] == {"pagopa", "transfer"}
    assert {"link", "direct_debit", "pagopa"} <= ways["654321"]
    assert DirectDebitMandate.get().status == "Attivo"


def test_demo_customers_have_a_reported_payment_open_and_one_verified(data):
    """123456's report waits in the back-office queue, 654321's is verified; both
    invoices stay unpaid and their receipts are on disk."""
    from models import PaymentReport
    reports = {report.customer.code: report for report in PaymentReport.select()}
    assert set(reports) == {"123456", "654321"}
    assert reports["123456"].handled_at is None
    assert reports["654321"].handled_at is not None and reports["654321"].handled_note
    for report in reports.values():
        assert report.invoice.paid is False
        assert (data["files"] / report.file_path).read_bytes().startswith(b"%PDF")
