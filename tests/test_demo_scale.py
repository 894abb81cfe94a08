"""The scale demo (`flask demo --scale medium|large`) at a tiny size: exact counts,
unique identifiers, the sample customers' files, the shared password, the SQLite
settings restored after the fast load."""
import datetime

import pytest
from stdnum.it import codicefiscale, iva

from portal.demo import common, scale
import models
from portal import passwords
from models import (
    BilledConsumption,
    Customer,
    Document,
    Invoice,
    Measurement,
    SelfReading,
    SupplyPoint,
)

TINY = scale.Scale(customers=40, supply_points=52, invoices_per_point=6, measured_points=3)
TODAY = datetime.date(2026, 3, 18)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    directory = tmp_path_factory.mktemp("scale")
    database = models.open_database(f"sqlite:///{directory / 'portal.db'}")
    models.db.initialize(database)
    database.connect()
    models.init_schema()
    lines = []
    counts = scale.generate(directory / "files", scale=TINY, today=TODAY,
                            log=lines.append)
    yield {"database": database, "counts": counts, "files": directory / "files", "log": lines}
    database.close()


@pytest.fixture
def data(generated):
    models.db.initialize(generated["database"])
    return generated


def test_counts_are_exactly_the_scale(data):
    counts = data["counts"]
    assert counts["Customer"] == Customer.select().count() == 40
    assert counts["SupplyPoint"] == SupplyPoint.select().count() == 52
    assert counts["Invoice"] == Invoice.select().count() == 52 * 6
    assert counts["BilledConsumption"] == BilledConsumption.select().count() == 52 * 6
    per_point = {count for (count,) in Invoice.select(models.fn.COUNT(Invoice.id))
                 .group_by(Invoice.supply_point).tuples()}
    assert per_point == {6}
    measured = Measurement.select(Measurement.supply_point).distinct().count()
    assert measured == 3
    # A year of quarter hours, less the two gaps of a few hours each.
    assert 3 * 34_900 < counts["Measurement"] == Measurement.select().count() <= 3 * 35_136
    assert counts["SelfReading"] == SelfReading.select().count() > 0


def test_every_invoice_is_issued_before_today_and_numbers_are_unique(data):
    numbers = [number for (number,) in Invoice.select(Invoice.number).tuples()]
    assert len(numbers) == len(set(numbers))
    assert Invoice.select().where(Invoice.date >= TODAY).count() == 0
    # Households every two months, businesses monthly: 6 periods reach 6 or 12 months back.
    oldest = Invoice.select(models.fn.MIN(Invoice.period_start)).scalar()
    assert oldest >= datetime.date(2025, 1, 1)


def test_identifiers_are_unique_and_valid(data):
    codes = [customer.code for customer in Customer.select()]
    assert len(set(codes)) == 40 and all(len(code) == 6 and code.isdigit() for code in codes)
    point_codes = [point.code for point in SupplyPoint.select()]
    assert len(set(point_codes)) == 52
    for customer in Customer.select():
        if customer.is_company:
            iva.validate(customer.tax_code)
        else:
            codicefiscale.validate(customer.tax_code)


def test_fixed_customers_and_one_shared_password(data):
    household = Customer.get(Customer.code == common.HOUSEHOLD_CODE)
    assert household.password_hash is None
    assert [point.code for point in household.supply_points_in_order()] == ["PR002874", "PR002875"]
    registered = list(Customer.select().where(Customer.code != common.HOUSEHOLD_CODE))
    assert {customer.password_hash for customer in registered} != {None}
    assert len({customer.password_hash for customer in registered}) == 1
    assert passwords.verify_password(registered[0].password_hash, common.DEMO_PASSWORD)


def test_sample_customers_have_gas_measured_electricity_and_pdfs(data):
    sample = scale.sample_customers()
    assert sample[0] == (common.COMPANY_CODE, "PR004410", "PR004412")
    assert len(sample) == 2  # 654321 and one two-point customer; 123456 is not registered
    files = data["files"]
    for code, gas, electricity in sample:
        customer = Customer.get(Customer.code == code)
        for point_code in (gas, electricity):
            point = SupplyPoint.get(SupplyPoint.code == point_code)
            newest = list(Invoice.for_supply_point(point, customer).limit(6))
            assert all(invoice.pdf_path for invoice in newest)
            assert all((files / invoice.pdf_path).read_bytes()[:5] == b"%PDF-"
                       for invoice in newest)
        assert Measurement.select().where(
            Measurement.supply_point == SupplyPoint.get(SupplyPoint.code == electricity)).exists()
        documents = list(Document.for_customer(customer))
        assert len(documents) >= 2
    # Every document row names a real file.
    for (path,) in Document.select(Document.file_path).distinct().tuples():
        assert (files / path).read_bytes()[:5] == b"%PDF-"


def test_sqlite_settings_are_restored_and_the_planner_has_statistics(data):
    database = models.db
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0] > 0


def test_a_second_run_is_refused(data, tmp_path):
    with pytest.raises(RuntimeError, match="already has 40 customers"):
        scale.generate(tmp_path, scale=TINY, log=lambda message: None)


def test_unknown_scale_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match="medium, large"):
        scale.generate(tmp_path, scale="huge")


def test_flask_demo_scale_option(tmp_path, monkeypatch):
    from conftest import make_app
    monkeypatch.setitem(scale.SCALES, "medium", TINY)
    application = make_app(tmp_path / "cli")
    models.db.close()
    runner = application.test_cli_runner()
    with application.app_context():
        result = runner.invoke(args=["demo", "--scale", "medium"])
        models.db.close()
    assert result.exit_code == 0, result.output
    assert "40 Customer, 52 SupplyPoint, 312 Invoice" in result.output
    assert "Every other customer is registered with password Collesalvetti-2015." in result.output
    result = runner.invoke(args=["demo", "--scale", "huge"])
    assert result.exit_code != 0 and "huge" in result.output
