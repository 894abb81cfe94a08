"""`flask import-dir` (the nightly drop folder) and `flask export-all` (the demo
database rebuilt through the importer)."""
import csv
import datetime
import fcntl
import hashlib
import re
import shutil
from pathlib import Path

import pytest

import models
from conftest import make_app
from models import (
    BilledConsumption,
    Customer,
    Document,
    Holding,
    Invoice,
    Measurement,
    ReadingWindow,
    SupplyPoint,
)
from test_exchange import SAMPLES, add_sample_readings, report_lines

# Names whose alphabetical order is not the dependency order: consumption sorts
# before customers, supply_points after invoices and reading_windows.
NIGHTLY_NAMES = {
    "customers": "customers-20240601.csv",
    "supply_points": "supply_points_20240601.csv",
    "invoices": "invoices.2024-06.csv",
    "consumption": "consumption-20240601.csv",
    "measurements": "MEASUREMENTS-20240601.csv",
    "documents": "documents-20240601.csv",
    "reading_windows": "reading_windows.csv",
}


@pytest.fixture
def drop(tmp_path):
    """A drop folder holding the samples under nightly names, with their files/."""
    folder = tmp_path / "drop"
    folder.mkdir()
    for kind, name in NIGHTLY_NAMES.items():
        shutil.copy(SAMPLES / f"{kind}.csv", folder / name)
    shutil.copytree(SAMPLES / "files", folder / "files")
    return folder


def import_dir(runner, folder):
    return runner.invoke(args=["import-dir", str(folder), "--quiet"])


def names(folder):
    return sorted(path.name for path in folder.iterdir() if path.is_file())


def test_nightly_folder_imports_in_dependency_order_and_moves_to_done(app, runner, drop):
    result = import_dir(runner, drop)
    assert result.exit_code == 0, result.output
    assert names(drop) == [".import-dir.lock"]
    assert names(drop / "failed") == []
    moved = sorted(NIGHTLY_NAMES.values())
    assert names(drop / "done") == sorted(moved + [f"{name}.report.txt" for name in moved])
    order = [line.split()[1] for line in result.output.splitlines() if line.startswith("ok")]
    assert order == list(NIGHTLY_NAMES.values())
    report = (drop / "done" / "invoices.2024-06.csv.report.txt").read_text(encoding="utf-8")
    assert "invoices.2024-06.csv (invoices): imported 6 line(s)" in report
    assert "6 new, 0 changed, 0 unchanged; 4 file(s) copied" in report
    assert Invoice.select().count() == 6 and Measurement.select().count() == 192
    assert (Path(app.config["FILES_DIR"]) / "invoices/2024/FT2024-000187.pdf").is_file()

    # The next night's outcomes need the readings the customers entered meanwhile.
    add_sample_readings()
    shutil.copy(SAMPLES / "reading_outcomes.csv", drop / "reading_outcomes-20240602.csv")
    assert import_dir(runner, drop).exit_code == 0
    assert "reading_outcomes-20240602.csv.report.txt" in names(drop / "done")


def test_failed_file_goes_to_failed_with_its_report_and_exit_code(app, runner, drop):
    bad = (drop / NIGHTLY_NAMES["supply_points"]).read_text(encoding="utf-8").replace(
        "IT001E00751005", "IT001E0075100")
    (drop / NIGHTLY_NAMES["supply_points"]).write_text(bad, encoding="utf-8")

    result = import_dir(runner, drop)

    assert result.exit_code == 1
    assert "FAILED  supply_points_20240601.csv (supply_points): REJECTED" in result.output
    assert "failed: see" in result.output
    failed = drop / "failed"
    assert "supply_points_20240601.csv" in names(failed)
    report = (failed / "supply_points_20240601.csv.report.txt").read_text(encoding="utf-8")
    assert report_lines(report) == [("6", "pdr_pod", "'IT001E0075100' is not a POD: expected IT, "
                                                     "3 digits, E, 8 digits (IT001E12345678)")]
    # Customers went in; the files that need the missing supply points failed on
    # their own, each with its report; nothing of them was imported.
    assert "customers-20240601.csv" in names(drop / "done")
    assert Customer.select().count() == 4 and SupplyPoint.select().count() == 0
    for name in ("invoices.2024-06.csv", "consumption-20240601.csv", "MEASUREMENTS-20240601.csv"):
        assert name in names(failed) and f"{name}.report.txt" in names(failed)
    assert Invoice.select().count() == 0 and Measurement.select().count() == 0
    assert "no supply point PR100101" in (failed / "invoices.2024-06.csv.report.txt").read_text()


def test_unrecognised_csv_fails_and_other_files_stay(app, runner, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "listino-prezzi.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    (folder / "leggimi.txt").write_text("not for the portal", encoding="utf-8")
    (folder / "customers.csv.part").write_text("still being written", encoding="utf-8")
    result = import_dir(runner, folder)
    assert result.exit_code == 1
    assert names(folder) == [".import-dir.lock", "customers.csv.part", "leggimi.txt"]
    report = (folder / "failed" / "listino-prezzi.csv.report.txt").read_text(encoding="utf-8")
    assert "the file name does not say what it contains: it must start with one of customers" in report


def test_refused_file_report_says_what_was_expected(app, runner, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "customers.csv").write_bytes(
        "code;name;tax_code\n200102;D'ANGELO NICCOLÒ;DNGNCC72C15G702R\n".encode("latin-1"))
    assert import_dir(runner, folder).exit_code == 1
    report = (folder / "failed" / "customers.csv.report.txt").read_text(encoding="utf-8")
    assert "REFUSED, nothing imported: the file is not UTF-8: line 2" in report
    assert "expected UTF-8" in report


def test_next_night_file_of_the_same_name_keeps_both(app, runner, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    for night in range(2):
        shutil.copy(SAMPLES / "customers.csv", folder / "customers.csv")
        assert import_dir(runner, folder).exit_code == 0
    done = names(folder / "done")
    assert len(done) == 4 and "customers.csv" in done and "customers.csv.report.txt" in done
    again = next(name for name in done if name.startswith("customers.") and name.endswith(".csv")
                 and name != "customers.csv")
    report = (folder / "done" / f"{again}.report.txt").read_text(encoding="utf-8")
    assert "0 new, 0 changed, 4 unchanged" in report


def test_empty_folder_is_fine(app, runner, tmp_path):
    result = import_dir(runner, tmp_path)
    assert result.exit_code == 0
    assert "nothing to import" in result.output


def test_two_runs_on_one_folder_do_not_overlap(app, runner, drop):
    with open(drop / ".import-dir.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = import_dir(runner, drop)
    assert result.exit_code == 1
    assert "another import-dir is running" in result.output
    assert Customer.select().count() == 0
    assert set(NIGHTLY_NAMES.values()) <= set(names(drop))


# --- export-all: the demo database rebuilt through the importer --------------------

def billing_data(files_dir):
    """The billing data by natural keys (ids differ between databases)."""
    data = {
        "customers": {customer.code: (customer.name, customer.tax_code, customer.is_company,
                                      customer.address, customer.phone, customer.fax,
                                      customer.email) for customer in Customer.select()},
        "supply_points": {point.code: (point.customer.code, point.commodity, point.pdr_pod,
                                       point.address, point.meter_serial, point.has_corrector,
                                       point.meter_digits, point.expected_annual_consumption,
                                       point.technical_data, point.contract_data)
                          for point in SupplyPoint.select()},
        "invoices": {invoice.number: (invoice.supply_point.code, invoice.customer.code,
                                      invoice.date, invoice.period_start,
                                      invoice.period_end, invoice.amount, invoice.due_date,
                                      invoice.paid, invoice.pdf_path) for invoice in Invoice.select()},
        # The holders over time, in order (the demo's PR004413 changed hands).
        "holdings": sorted((holding.supply_point.code, holding.customer.code, holding.start_date
                            or datetime.date.min, holding.end_date or datetime.date.max)
                           for holding in Holding.select()),
        "consumption": {(row.supply_point.code, row.period_start): (
            row.period_end, row.energy_f1, row.energy_f2, row.energy_f3, row.energy_total,
            row.max_power, row.unit, row.reading_kind) for row in BilledConsumption.select()},
        "measurements": set(Measurement
                            .select(SupplyPoint.code, Measurement.timestamp,
                                    Measurement.active_energy_kwh, Measurement.power_kw)
                            .join(SupplyPoint)
                            .tuples()),
        "documents": {(document.customer.code, document.file_path): (document.title, document.date)
                      for document in Document.select()},
        "reading_windows": {(window.supply_point.code if window.supply_point_id else "*",
                             window.start_at, window.end_at) for window in ReadingWindow.select()},
        # Meter photos (readings/) and payment receipts (payment-reports/) are the
        # portal's own, like self-readings: no billing file carries them.
        "files": {str(path.relative_to(files_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
                  for path in Path(files_dir).rglob("*")
                  if path.is_file()
                  and not str(path.relative_to(files_dir)).startswith(
                      ("forms/", "readings/", "payment-reports/"))},
    }
    return data


def round_trip(app, runner, tmp_path, measurements):
    from portal.demo import small
    files_dir = Path(app.config["FILES_DIR"])
    small.generate(files_dir, seed=11, customers=3, pdfs=not measurements,
                   measurements=measurements, log=lambda message: None)
    original = billing_data(files_dir)
    export = tmp_path / "export"
    result = runner.invoke(args=["export-all", str(export)])
    assert result.exit_code == 0, result.output
    assert f"{len(original['customers'])} customers" in result.output

    fresh = make_app(tmp_path / "fresh")
    result = fresh.test_cli_runner().invoke(args=["import-dir", str(export), "--quiet"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        rebuilt = billing_data(fresh.config["FILES_DIR"])
    models.db.close()
    return original, rebuilt


def test_demo_database_rebuilt_through_the_importer(app, runner, tmp_path):
    original, rebuilt = round_trip(app, runner, tmp_path, measurements=False)
    assert len(original["invoices"]) > 100
    assert any(invoice[-1] for invoice in original["invoices"].values())  # with PDFs
    assert original["documents"] and original["reading_windows"]
    for name in original:
        assert rebuilt[name] == original[name], name


@pytest.mark.slow
def test_demo_measurements_survive_the_round_trip_across_dst_changes(app, runner, tmp_path):
    """Two years of 15-minute data, four clock changes, exported in Rome time."""
    original, rebuilt = round_trip(app, runner, tmp_path, measurements=True)
    assert len(original["measurements"]) > 50000
    assert rebuilt["measurements"] == original["measurements"]


# The outside review's payload (issue 14): an e-mail the portal accepts, a formula for
# whoever opens the export in a spreadsheet.
FORMULA_EMAIL = "=cmd|'/Ccalc'!A0@example.it"


def test_export_all_neutralises_formulas_and_imports_them_back(app, runner, tmp_path, factory):
    customer = factory.customer(code="654321", name="+SUM(1;2)", email=FORMULA_EMAIL,
                                phone="-1+2", fax="@A1")
    point = factory.supply_point(customer, code="PR000001")
    Invoice.create(number="NC2024-000001", supply_point=point, date="2024-01-31",
                   period_start="2024-01-01", period_end="2024-01-31", amount="-12.50",
                   due_date="2024-02-28")
    export = tmp_path / "export"
    assert runner.invoke(args=["export-all", str(export)]).exit_code == 0
    with open(export / "customers.csv", encoding="utf-8", newline="") as handle:
        header, row = list(csv.reader(handle, delimiter=";"))
    exported = dict(zip(header, row))
    assert exported["email"] == "'" + FORMULA_EMAIL
    assert exported["name"] == "'+SUM(1;2)"
    assert exported["phone"] == "'-1+2" and exported["fax"] == "'@A1"
    cells = [cell for path in export.glob("*.csv")
             for line in csv.reader(open(path, encoding="utf-8", newline=""), delimiter=";")
             for cell in line]
    formulas = [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")
                or (cell.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", cell))]
    assert formulas == []
    with open(export / "invoices.csv", encoding="utf-8", newline="") as handle:
        assert "-12.50" in [cell for line in csv.reader(handle, delimiter=";") for cell in line]

    fresh = make_app(tmp_path / "fresh")
    result = fresh.test_cli_runner().invoke(args=["import-dir", str(export), "--quiet"])
    assert result.exit_code == 0, result.output
    with fresh.app_context():
        rebuilt = Customer.get(Customer.code == "654321")
        assert (rebuilt.email, rebuilt.name, rebuilt.phone, rebuilt.fax) == (
            FORMULA_EMAIL, "+SUM(1;2)", "-1+2", "@A1")
        assert float(Invoice.get().amount) == -12.5
    models.db.close()


def test_import_report_cells_are_safe_in_a_spreadsheet(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text('code;name;tax_code;email\n'
                    '200101;BIANCHI;"X;=HYPERLINK(""http://evil.example"")";a@example.it\n',
                    encoding="utf-8")
    result = runner.invoke(args=["import", "customers", str(path), "--quiet"])
    assert result.exit_code == 1
    rows = [row for row in csv.reader(result.output.splitlines(), delimiter=";")
            if row and row[0].isdigit()]
    assert len(rows) == 1 and len(rows[0]) == 3  # the ';' inside the value is quoted
    line, column, reason = rows[0]
    assert (line, column) == ("2", "tax_code") and "=HYPERLINK" in reason
    assert not reason.startswith(("=", "+", "-", "@"))
