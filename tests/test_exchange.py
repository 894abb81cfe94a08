"""`flask import KIND FILE`: every kind of the contract, its checks, upserts and
all-or-nothing. The files are the project's samples (samples/)."""
import csv
import datetime
import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

import models
from models import (
    BilledConsumption,
    Customer,
    Document,
    Invoice,
    Measurement,
    ReadingWindow,
    SelfReading,
    SupplyPoint,
)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
KIND_ORDER = ["customers", "supply_points", "invoices", "consumption", "measurements",
              "documents", "reading_windows", "reading_outcomes"]
# Self-readings the sample reading_outcomes.csv speaks of (they are entered in the
# portal, not imported).
SAMPLE_READINGS = [("PR100101", datetime.date(2024, 1, 28)),
                   ("PR100104", datetime.date(2024, 1, 29)),
                   ("PR100106", datetime.date(2024, 2, 27))]


# --- helpers shared with the other test_exchange_* modules ------------------------

@pytest.fixture
def samples(tmp_path):
    """A private copy of samples/ (the drop folder moves files)."""
    target = tmp_path / "samples"
    shutil.copytree(SAMPLES, target)
    return target


def run_import(runner, kind, path, *options):
    return runner.invoke(args=["import", kind, str(path), "--quiet", *options])


def import_ok(runner, kind, path, *options):
    result = run_import(runner, kind, path, *options)
    assert result.exit_code == 0, result.output
    return result


def read_sample(kind):
    with open(SAMPLES / f"{kind}.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    return rows[0], rows[1:]


def write_csv(path, header, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def add_sample_readings():
    for code, day in SAMPLE_READINGS:
        SelfReading.create(supply_point=SupplyPoint.get(SupplyPoint.code == code),
                           reading_date=day, meter_reading=4500, status=SelfReading.ACQUIRED)


def load_samples(runner, folder, up_to):
    """Import the sample files of the kinds before `up_to` (a kind's references)."""
    for kind in KIND_ORDER[:KIND_ORDER.index(up_to)]:
        import_ok(runner, kind, folder / f"{kind}.csv")
    if up_to == "reading_outcomes":
        add_sample_readings()


def snapshot(files_dir=None):
    """Every billing row and every stored file: equal snapshots, unchanged portal."""
    state = {}
    for model in (Customer, SupplyPoint, Invoice, BilledConsumption, Measurement, Document,
                  ReadingWindow, SelfReading):
        state[model.__name__] = list(model.select().order_by(model.id).tuples())
    if files_dir:
        state["files"] = sorted((str(path.relative_to(files_dir)),
                                 hashlib.sha256(path.read_bytes()).hexdigest())
                                for path in Path(files_dir).rglob("*") if path.is_file())
    return state


def report_lines(output):
    """`line;column;reason` rows of a report."""
    rows = []
    for text in output.splitlines():
        parts = text.split(";", 2)
        if len(parts) == 3 and (parts[0].isdigit() or parts[0] == "-"):
            rows.append((parts[0], parts[1], parts[2]))
    return rows


# --- valid files -------------------------------------------------------------------

def test_samples_import_in_dependency_order(app, runner, samples):
    """Every sample imports into an empty portal, and the rows say what the files say."""
    for kind in KIND_ORDER:
        if kind == "reading_outcomes":
            add_sample_readings()
        result = import_ok(runner, kind, samples / f"{kind}.csv")
        assert f"({kind}): imported" in result.output
        # Outcomes change readings that exist; everything else is new.
        assert ("0 new, 3 changed, 0 unchanged" if kind == "reading_outcomes"
                else "0 changed, 0 unchanged") in result.output

    laura = Customer.get(Customer.code == "200101")
    assert (laura.name, laura.tax_code, laura.is_company) == ("BIANCHI LAURA", "BNCLRA85M41E625N", False)
    assert laura.email == "laura.bianchi@example.it" and laura.fax == ""
    niccolo = Customer.get(Customer.code == "200102")
    assert niccolo.name == "D'ANGELO NICCOLÒ"
    assert niccolo.address == "VIA DEL MARE 8; SCALA B - 56122 PISA (PI)"  # quoted ';'
    assert Customer.get(Customer.code == "200103").is_company  # partita IVA

    gas = SupplyPoint.get(SupplyPoint.code == "PR100104")
    assert (gas.customer.code, gas.commodity, gas.pdr_pod, gas.has_corrector, gas.meter_digits) == (
        "200103", "gas", "03340009751004", True, 8)
    assert gas.expected_annual_consumption == 18500
    assert gas.technical_data == {"tech_corrector": "Correttore di volume PTZ",
                                  "tech_meter_class": "G25", "tech_pressure": "Media pressione",
                                  "tech_remi": "34512345"}
    assert gas.contract_data["contract_start"] == "01/01/2014"
    power = SupplyPoint.get(SupplyPoint.code == "PR100102")
    assert power.technical_data == {"tech_voltage": "BT 230 V", "tech_contracted_power_kw": "3,0"}
    assert power.label == "PR100102 (Pod: IT001E00751002); VIA GARIBALDI 12 - 57121 LIVORNO (LI)"

    invoice = Invoice.get(Invoice.number == "FT2024-000101")
    assert invoice.amount == Decimal("187.40") and invoice.paid
    assert invoice.pdf_path == "invoices/2024/FT2024-000101.pdf"
    stored = Path(app.config["FILES_DIR"]) / invoice.pdf_path
    assert stored.read_bytes() == (samples / "files" / "FT2024-000101.pdf").read_bytes()
    credit_note = Invoice.get(Invoice.number == "NC2024-000003")
    assert credit_note.amount == Decimal("-120.50")
    assert credit_note.date == datetime.date(2024, 2, 15)  # written 15/02/2024
    assert credit_note.pdf_path is None
    assert Invoice.get(Invoice.number == "FT2024-000102").amount == Decimal("96.15")

    bands = BilledConsumption.get(BilledConsumption.energy_total == 448)
    assert (bands.energy_f1, bands.energy_f2, bands.energy_f3, bands.max_power, bands.unit) == (
        142.5, 118.2, 187.3, 2.9, "kWh")
    assert BilledConsumption.select().where(BilledConsumption.unit == "Smc").count() == 3

    assert Measurement.select().count() == 192

    documents = {(document.customer.code, document.file_path) for document in Document.select()}
    assert documents == {("200103", "documents/200103/contratto-200103.pdf"),
                         ("200101", "documents/200101/variazione-prezzi-2024.pdf"),
                         ("200102", "documents/200102/variazione-prezzi-2024.pdf")}
    for _, file_path in documents:
        assert (Path(app.config["FILES_DIR"]) / file_path).is_file()

    windows = list(ReadingWindow.select().order_by(ReadingWindow.start_at))
    assert [(window.supply_point_id is None, window.start_at, window.end_at) for window in windows] == [
        (True, datetime.datetime(2024, 1, 25, 8), datetime.datetime(2024, 1, 31, 22)),
        (True, datetime.datetime(2024, 2, 25, 8), datetime.datetime(2024, 2, 29, 22)),
        (False, datetime.datetime(2024, 3, 20, 8), datetime.datetime(2024, 3, 31, 22)),
    ]
    assert windows[2].supply_point.code == "PR100104"

    outcomes = {(reading.supply_point.code, reading.outcome, reading.outcome_reason)
                for reading in SelfReading.select()}
    assert outcomes == {("PR100101", "validata", ""),
                        ("PR100104", "scartata", "Lettura inferiore alla precedente"),
                        ("PR100106", "validata", "")}


@pytest.mark.parametrize("kind", KIND_ORDER)
def test_same_file_twice_changes_nothing(app, runner, samples, kind):
    load_samples(runner, samples, kind)
    first = import_ok(runner, kind, samples / f"{kind}.csv")
    before = snapshot(app.config["FILES_DIR"])
    second = import_ok(runner, kind, samples / f"{kind}.csv")
    assert snapshot(app.config["FILES_DIR"]) == before
    lines = len(read_sample(kind)[1])
    assert f"0 new, 0 changed, {lines} unchanged" in second.output
    assert "file(s) copied" not in second.output
    if kind != "reading_outcomes":
        assert f"{lines} new, 0 changed, 0 unchanged" in first.output


def test_header_case_and_order_free_with_bom(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("\ufeffEMAIL ; Code;NAME;Tax_Code\n"
                     "a@example.it;200101;BIANCHI LAURA;bnclra85m41e625n\n".encode("utf-8"))
    import_ok(runner, "customers", path)
    customer = Customer.get(Customer.code == "200101")
    assert (customer.email, customer.tax_code, customer.address) == (
        "a@example.it", "BNCLRA85M41E625N", "")


def test_changed_line_updates_only_the_file_columns(app, runner, tmp_path, samples):
    import_ok(runner, "customers", samples / "customers.csv")
    Customer.update(password_hash="kept", registered_at=datetime.datetime(2024, 1, 1)).where(
        Customer.code == "200101").execute()
    # No email, phone or fax column: the stored ones stay; the name changes.
    path = write_csv(tmp_path / "customers.csv", ["code", "name", "tax_code"],
                     [["200101", "BIANCHI LAURA MARIA", "BNCLRA85M41E625N"],
                      ["200102", "D'ANGELO NICCOLÒ", "DNGNCC72C15G702R"]])
    result = import_ok(runner, "customers", path)
    assert "0 new, 1 changed, 1 unchanged" in result.output
    laura = Customer.get(Customer.code == "200101")
    assert laura.name == "BIANCHI LAURA MARIA"
    assert laura.email == "laura.bianchi@example.it" and laura.phone == "0586 401122"
    assert laura.password_hash == "kept" and laura.registered_at is not None


def test_supply_point_without_tech_columns_keeps_its_data(app, runner, tmp_path, samples):
    load_samples(runner, samples, "invoices")
    path = write_csv(tmp_path / "supply_points.csv",
                     ["code", "customer_code", "commodity", "pdr_pod", "address", "meter_serial"],
                     [["PR100104", "200103", "gas", "03340009751004",
                       "VIA DEL LAVORO 4 - 57014 COLLESALVETTI (LI)", "MT2500999"]])
    assert "1 changed" in import_ok(runner, "supply_points", path).output
    point = SupplyPoint.get(SupplyPoint.code == "PR100104")
    assert point.meter_serial == "MT2500999"
    assert point.has_corrector and point.meter_digits == 8
    assert point.technical_data["tech_meter_class"] == "G25"


def test_invoice_without_pdf_keeps_its_pdf_and_a_new_pdf_replaces_it(app, runner, samples):
    load_samples(runner, samples, "consumption")
    header, rows = read_sample("invoices")
    without_pdf = [row[:-1] + [""] for row in rows]
    write_csv(samples / "invoices-again.csv", header, without_pdf)
    assert "0 changed" in import_ok(runner, "invoices", samples / "invoices-again.csv").output
    assert Invoice.get(Invoice.number == "FT2024-000101").pdf_path == "invoices/2024/FT2024-000101.pdf"

    shutil.copy(samples / "files" / "FT2024-000102.pdf", samples / "files" / "FT2024-000101.pdf")
    import_ok(runner, "invoices", samples / "invoices.csv")
    stored = Path(app.config["FILES_DIR"]) / "invoices/2024/FT2024-000101.pdf"
    assert stored.read_bytes() == (samples / "files" / "FT2024-000102.pdf").read_bytes()


def test_invoice_numbers_become_safe_file_names(app, runner, samples):
    load_samples(runner, samples, "invoices")
    write_csv(samples / "invoices.csv", read_sample("invoices")[0][:8] + ["pdf"],
              [["2024/17", "PR100101", "2024-03-05", "2024-01-01", "2024-02-29", "10", "2024-03-25",
                "0", "files/FT2024-000101.pdf"]])
    import_ok(runner, "invoices", samples / "invoices.csv")
    pdf_path = Invoice.get(Invoice.number == "2024/17").pdf_path
    assert pdf_path.startswith("invoices/2024/2024_17-") and pdf_path.endswith(".pdf")
    assert (Path(app.config["FILES_DIR"]) / pdf_path).is_file()


def test_rejected_reading_shows_its_reason(app, runner, samples):
    """Outcomes land on the customer's readings (the readings page shows them)."""
    load_samples(runner, samples, "reading_outcomes")
    import_ok(runner, "reading_outcomes", samples / "reading_outcomes.csv")
    path = write_csv(samples / "reading_outcomes.csv", read_sample("reading_outcomes")[0],
                     [["PR100104", "29/01/2024", "Validata", ""]])
    assert "0 new, 1 changed, 0 unchanged" in import_ok(runner, "reading_outcomes", path).output
    reading = SelfReading.get(SelfReading.reading_date == datetime.date(2024, 1, 29))
    assert (reading.outcome, reading.outcome_reason) == ("validata", "")


def test_reading_window_end_is_updated_on_its_key(app, runner, samples):
    load_samples(runner, samples, "reading_windows")
    import_ok(runner, "reading_windows", samples / "reading_windows.csv")
    path = write_csv(samples / "reading_windows.csv", read_sample("reading_windows")[0],
                     [["*", "2024-01-25", "08:00", "2024-02-01", "12:00"],
                      ["PR100104", "2024-01-25", "08:00", "2024-01-26", "12:00"]])
    assert "1 new, 1 changed, 0 unchanged" in import_ok(runner, "reading_windows", path).output
    every_point = ReadingWindow.get(ReadingWindow.supply_point.is_null()
                                    & (ReadingWindow.start_at == datetime.datetime(2024, 1, 25, 8)))
    assert every_point.end_at == datetime.datetime(2024, 2, 1, 12)
    assert ReadingWindow.select().count() == 4


def test_blank_lines_and_trailing_separators_are_skipped(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("code;name;tax_code\n\n200101;BIANCHI LAURA;BNCLRA85M41E625N\n;;\n\n",
                    encoding="utf-8")
    assert "imported 1 line(s)" in import_ok(runner, "customers", path).output


# --- bad lines -------------------------------------------------------------------------

# kind, {column: value} changed in the sample's first line, column, words of the reason
BAD_LINES = [
    ("customers", {"code": "20010"}, "code", "6 digits"),
    ("customers", {"code": "A00101"}, "code", "6 digits"),
    ("customers", {"tax_code": "BNCLRA85M41E625X"}, "tax_code", "check character of the codice fiscale"),
    ("customers", {"tax_code": "BNCLRA85M41"}, "tax_code", "neither a codice fiscale"),
    ("customers", {"tax_code": "01234560497"}, "tax_code", "check character of the partita IVA"),
    ("customers", {"tax_code": "01234567897"}, "tax_code", "office code of the partita IVA"),
    ("customers", {"email": "laura.bianchi@"}, "email", "not an e-mail address"),
    ("customers", {"name": ""}, "name", "empty: a value is required"),
    ("customers", {"name": "X" * 256}, "name", "longer than 255"),
    ("customers", {"phone": "0586\t12"}, "phone", "control character"),
    ("supply_points", {"customer_code": "299999"}, "customer_code", "no customer 299999"),
    ("supply_points", {"commodity": "water"}, "commodity", "not one of: gas, electricity"),
    ("supply_points", {"pdr_pod": "0334000975100"}, "pdr_pod", "not a PDR: expected 14 digits"),
    ("supply_points", {"pdr_pod": "IT001E00751002"}, "pdr_pod", "not a PDR"),
    ("supply_points", {"commodity": "electricity", "pdr_pod": "IT001X00751002"}, "pdr_pod", "not a POD"),
    ("supply_points", {"commodity": "electricity", "pdr_pod": "IT001E00751001", "has_corrector": "1"},
     "has_corrector", "only a gas meter"),
    ("supply_points", {"has_corrector": "yes"}, "has_corrector", "expected 0 or 1"),
    ("supply_points", {"meter_digits": "40"}, "meter_digits", "from 3 to 12"),
    ("supply_points", {"expected_annual_consumption": "-3"}, "expected_annual_consumption", "negative"),
    ("supply_points", {"expected_annual_consumption": "1.150,5"}, "expected_annual_consumption",
     "thousands separators"),
    ("supply_points", {"code": "PR 100101"}, "code", "not a supply point code"),
    ("invoices", {"supply_point_code": "PR999999"}, "supply_point_code", "no supply point PR999999"),
    ("invoices", {"date": "31/02/2024"}, "date", "not a day of the calendar"),
    ("invoices", {"date": "2024/03/05"}, "date", "expected YYYY-MM-DD or DD/MM/YYYY"),
    ("invoices", {"period_end": "2023-12-31"}, "period_end", "before period_start"),
    ("invoices", {"amount": "187,405"}, "amount", "at most 2 decimals"),
    ("invoices", {"amount": "1e3"}, "amount", "not a number"),
    ("invoices", {"paid": "2"}, "paid", "expected 0 or 1"),
    ("invoices", {"pdf": "files/missing.pdf"}, "pdf", "not found"),
    ("invoices", {"pdf": "../customers.csv"}, "pdf", "without '..'"),
    ("invoices", {"pdf": "/etc/passwd"}, "pdf", "without '..' or a leading '/'"),
    ("invoices", {"pdf": "customers.csv"}, "pdf", "not a PDF"),
    ("invoices", {"number": "FT 2024"}, "number", "not an invoice number"),
    ("consumption", {"unit": "kWh"}, "unit", "the unit is Smc"),
    ("consumption", {"unit": "m3"}, "unit", "not one of: kWh, Smc"),
    ("consumption", {"energy_f1": "10"}, "energy_f1", "for electricity points only"),
    ("consumption", {"energy_total": "-1"}, "energy_total", "negative"),
    ("consumption", {"energy_total": ""}, "energy_total", "a value is required"),
    ("measurements", {"supply_point_code": "PR100101"}, "supply_point_code", "gas supply point"),
    ("measurements", {"supply_point_code": "PR999999"}, "supply_point_code", "no supply point"),
    ("measurements", {"timestamp": "2024-03-31 02:30"}, "timestamp", "does not exist in Italy"),
    ("measurements", {"timestamp": "2024-03-31T00:15"}, "timestamp", "expected YYYY-MM-DD HH:MM"),
    ("measurements", {"timestamp": "2024-03-31 24:00"}, "timestamp", "00:00 to 23:59"),
    ("measurements", {"timestamp": "2024-02-30 10:00"}, "timestamp", "not a day of the calendar"),
    ("measurements", {"active_energy_kwh": "-0,1"}, "active_energy_kwh", "negative"),
    ("measurements", {"active_energy_kwh": "abc"}, "active_energy_kwh", "not a number"),
    ("measurements", {"power_kw": "nan"}, "power_kw", "not a number"),
    ("documents", {"customer_code": "299999"}, "customer_code", "no customer 299999"),
    ("documents", {"file": "files/nothing.pdf"}, "file", "not found"),
    ("documents", {"file": "..\\customers.csv"}, "file", "without '..'"),
    ("documents", {"title": ""}, "title", "a value is required"),
    ("reading_windows", {"end_date": "2024-01-24"}, "end_date", "before it starts"),
    ("reading_windows", {"start_time": "8:00"}, "start_time", "expected HH:MM"),
    ("reading_windows", {"start_time": "25:00"}, "start_time", "00:00 to 23:59"),
    ("reading_windows", {"supply_point_code": "PR100102"}, "supply_point_code",
     "electricity supply point"),
    ("reading_outcomes", {"outcome": "accettata"}, "outcome", "not one of: validata, scartata"),
    ("reading_outcomes", {"outcome": "scartata", "reason": ""}, "reason", "needs a reason"),
    ("reading_outcomes", {"reading_date": "2024-01-27"}, "reading_date", "no self-reading of PR100101"),
]


@pytest.mark.parametrize("kind, changes, column, reason", BAD_LINES,
                         ids=[f"{case[0]}-{case[2]}-{index}" for index, case in enumerate(BAD_LINES)])
def test_bad_line_rejects_the_file(app, runner, samples, kind, changes, column, reason):
    load_samples(runner, samples, kind)
    header, rows = read_sample(kind)
    bad = list(rows[0])
    for name, value in changes.items():
        bad[header.index(name)] = value
    path = write_csv(samples / f"{kind}-test.csv", header, [rows[1], bad] + rows[2:])
    before = snapshot(app.config["FILES_DIR"])

    result = run_import(runner, kind, path)

    assert result.exit_code == 1
    assert "REJECTED, nothing imported: 1 bad line(s)" in result.output
    problems = report_lines(result.output)
    assert [(line, name) for line, name, _ in problems] == [("3", column)], result.output
    assert reason in problems[0][2]
    assert snapshot(app.config["FILES_DIR"]) == before


def test_every_bad_line_is_listed_with_line_column_reason(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("code;name;tax_code;email\n"
                    "200101;BIANCHI LAURA;BNCLRA85M41E625N;\n"
                    "12;;BNCLRA85M41E625N;\n"
                    "200103;PANIFICIO;01234560496;nobody\n"
                    "200104;FERRARI;FRRGNN60A01D612N\n"
                    "200105;ROSSI;RSSMRA80A01H501U;\n"
                    "200101;BIANCHI LAURA;BNCLRA85M41E625N;\n", encoding="utf-8")
    result = run_import(runner, "customers", path)
    assert result.exit_code == 1
    assert "5 problem(s) on 4 line(s)" in result.output
    problems = report_lines(result.output)
    assert [(line, column) for line, column, _ in problems] == [
        ("3", "code"), ("3", "name"), ("4", "email"), ("5", "-"), ("7", "-")]
    assert "3 fields, the header has 4" in problems[3][2]
    assert "same code as line 2" in problems[4][2]
    assert Customer.select().count() == 0


def test_repeated_key_anywhere_in_the_file_is_a_bad_line(app, runner, samples):
    load_samples(runner, samples, "measurements")
    header, rows = read_sample("measurements")
    path = write_csv(samples / "measurements.csv", header, rows + [rows[40]])
    result = run_import(runner, "measurements", path)
    assert result.exit_code == 1
    assert report_lines(result.output) == [
        (str(len(rows) + 2), "-", "same supply point and timestamp as line 42: a key may appear "
                                  "only once in a file")]
    assert Measurement.select().count() == 0


def test_report_lists_the_first_thousand_problems_and_counts_the_rest(app, runner, tmp_path):
    rows = [["20010", "X", "BNCLRA85M41E625N"]] * 1500
    path = write_csv(tmp_path / "customers.csv", ["code", "name", "tax_code"], rows)
    result = run_import(runner, "customers", path, "--report", str(tmp_path / "report.txt"))
    assert result.exit_code == 1
    assert len(report_lines(result.output)) == 1000
    assert "... and 500 more problem(s) not listed" in result.output
    assert (tmp_path / "report.txt").read_text(encoding="utf-8") == result.output


def test_bad_line_after_many_good_ones_leaves_no_trace(app, runner, samples):
    """All-or-nothing: rows, PDFs and documents of the good lines are not kept."""
    load_samples(runner, samples, "invoices")
    header, rows = read_sample("invoices")
    bad = list(rows[-1])
    bad[header.index("amount")] = "12,345"
    path = write_csv(samples / "invoices.csv", header, rows + [bad])
    before = snapshot(app.config["FILES_DIR"])
    result = run_import(runner, "invoices", path)
    assert result.exit_code == 1
    assert snapshot(app.config["FILES_DIR"]) == before
    assert not list(Path(app.config["FILES_DIR"]).rglob("*.pdf"))
    assert not list(Path(app.config["FILES_DIR"]).glob(".import-*"))


def test_pdf_symlink_leading_outside_the_folder_is_refused(app, runner, samples, tmp_path):
    load_samples(runner, samples, "invoices")
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF-1.4 secret")
    (samples / "files" / "link.pdf").symlink_to(outside)
    header, rows = read_sample("invoices")
    row = list(rows[0])
    row[header.index("pdf")] = "files/link.pdf"
    result = run_import(runner, "invoices", write_csv(samples / "invoices.csv", header, [row]))
    assert result.exit_code == 1
    assert "leads outside the folder" in result.output


def test_files_option_names_the_folder_of_the_pdfs(app, runner, samples, tmp_path):
    load_samples(runner, samples, "invoices")
    elsewhere = tmp_path / "export"
    elsewhere.mkdir()
    shutil.copy(samples / "invoices.csv", elsewhere / "invoices.csv")
    assert run_import(runner, "invoices", elsewhere / "invoices.csv").exit_code == 1
    import_ok(runner, "invoices", elsewhere / "invoices.csv", "--files", str(samples))
    assert Invoice.select().where(Invoice.pdf_path.is_null(False)).count() == 4


# --- files refused up front ------------------------------------------------------------

def test_windows_1252_file_is_refused_saying_utf8_is_expected(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("code;name;tax_code\n200101;BIANCHI LAURA;BNCLRA85M41E625N\n"
                     "200102;D'ANGELO NICCOLÒ;DNGNCC72C15G702R\n".encode("cp1252"))
    result = run_import(runner, "customers", path)
    assert result.exit_code == 1
    assert "REFUSED, nothing imported: the file is not UTF-8: line 3 has the byte 0xD2" in result.output
    assert "expected UTF-8" in result.output
    assert report_lines(result.output)[0][:2] == ("3", "-")
    assert Customer.select().count() == 0


def test_utf16_file_is_refused(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("code;name;tax_code\n200101;BIANCHI LAURA;BNCLRA85M41E625N\n".encode("utf-16"))
    result = run_import(runner, "customers", path)
    assert result.exit_code == 1
    assert "the file is UTF-16: it must be UTF-8" in result.output


@pytest.mark.parametrize("header, message", [
    ("code,name,tax_code", "the header is separated by ',': the separator must be ';'"),
    ("code\tname\ttax_code", "the header is separated by a tab: the separator must be ';'"),
    ("code;name;tax_code;birthday", "unknown column(s) 'birthday'"),
    ("code;name;tech_note", "unknown column(s) 'tech_note' in a customers file"),
    ("code;name", "missing column(s) tax_code"),
    ("code;name;tax_code;Name", "column 'name' appears twice"),
    ("", "the first line must be the header"),
])
def test_bad_header_is_refused_saying_what_is_expected(app, runner, tmp_path, header, message):
    path = tmp_path / "customers.csv"
    path.write_text(f"{header}\n200101;BIANCHI LAURA;BNCLRA85M41E625N\n", encoding="utf-8")
    result = run_import(runner, "customers", path)
    assert result.exit_code == 1
    assert message in result.output
    assert "REFUSED, nothing imported" in result.output
    if header:
        assert "code;name;tax_code;address;phone;fax;email" in result.output


def test_empty_file_is_refused(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b"")
    result = run_import(runner, "customers", path)
    assert result.exit_code == 1
    assert "the file is empty" in result.output


def test_unknown_kind_is_refused_by_the_command(app, runner, samples):
    result = runner.invoke(args=["import", "tariffs", str(samples / "customers.csv")])
    assert result.exit_code == 2
    assert "customers" in result.output and "reading_outcomes" in result.output


def test_import_needs_a_schema(tmp_path):
    from app import create_app
    from conftest import database_url_for
    application = create_app({"TESTING": True, "SECRET_KEY": "x",
                              "DATABASE_URL": database_url_for(tmp_path),  # empty
                              "FILES_DIR": str(tmp_path / "files")})
    result = application.test_cli_runner().invoke(
        args=["import", "customers", str(SAMPLES / "customers.csv")])
    assert result.exit_code == 1
    assert "run `flask init-db` first" in result.output


def test_every_import_is_audited(app, runner, samples, tmp_path):
    import_ok(runner, "customers", samples / "customers.csv")
    bad = tmp_path / "customers.csv"
    bad.write_text("code;name;tax_code\n1;X;Y\n", encoding="utf-8")
    run_import(runner, "customers", bad)
    details = [entry.detail for entry in models.AuditLog.select().where(
        models.AuditLog.event == "data_import").order_by(models.AuditLog.id)]
    assert details[0].startswith("customers.csv (customers): imported 4 line(s)")
    assert details[1].startswith("customers.csv (customers): REJECTED")


def test_database_failure_during_the_merge_keeps_nothing(app, runner, samples, monkeypatch):
    """A failure of the database itself is reported like a bad file, never half-kept."""
    from portal.exchange import kinds
    from peewee import IntegrityError
    load_samples(runner, samples, "invoices")
    original_merge = kinds.Kind.merge

    def merge_then_fail(kind, staging, counts):
        original_merge(kind, staging, counts)
        raise IntegrityError("FOREIGN KEY constraint failed")

    monkeypatch.setattr(kinds.Kind, "merge", merge_then_fail)
    before = snapshot(app.config["FILES_DIR"])
    result = run_import(runner, "invoices", samples / "invoices.csv")
    assert result.exit_code == 1
    assert "the import failed and nothing was kept: FOREIGN KEY constraint failed" in result.output
    assert snapshot(app.config["FILES_DIR"]) == before


def test_report_is_in_line_order(app, runner, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("code;name;tax_code\n200101;X;BNCLRA85M41E625N\n200101;X;BNCLRA85M41E625N\n"
                    "200199;Y;BAD\n", encoding="utf-8")
    result = run_import(runner, "customers", path)
    assert [line for line, _, _ in report_lines(result.output)] == ["3", "4"]
