"""The export: the billing data of the database written as files of the contract, and the
customers' bolletta web choices for the billing system."""
import csv
import decimal
import os
import shutil
from pathlib import Path

import click
from flask import current_app
from peewee import JOIN

from models import (
    BilledConsumption,
    Customer,
    Document,
    Invoice,
    Measurement,
    ReadingWindow,
    SupplyPoint,
)
from portal import holdings
from portal.exchange.kinds import (
    ConsumptionKind,
    CustomersKind,
    DocumentsKind,
    InvoicesKind,
    MeasurementsKind,
    ReadingWindowsKind,
    SupplyPointsKind,
)
from portal.exchange.values import SEPARATOR, local_timestamp
from portal.formatting import local_datetime, spreadsheet_safe

def _number_text(value):
    """A float as the contract writes it: shortest exact form, never an exponent."""
    if value is None:
        return ""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(decimal.Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _export_rows(kind, files_dir, out_dir, round_=1):
    """(header, rows) of one kind; rows is an iterator (measurements are many).
    Supply points come in rounds, one per holder (see export_all)."""
    if kind == "customers":
        header = list(CustomersKind.columns)
        query = Customer.select().order_by(Customer.code)
        return header, ([c.code, c.name, c.tax_code, c.address, c.phone, c.fax, c.email]
                        for c in query.iterator())
    if kind == "supply_points":
        extras = set()
        for technical, contract in (SupplyPoint
                                    .select(SupplyPoint.technical_data, SupplyPoint.contract_data)
                                    .tuples()):
            extras.update(technical)
            extras.update(contract)
        extras = sorted(extras)
        header = list(SupplyPointsKind.columns) + extras
        query = SupplyPoint.select().order_by(SupplyPoint.code)
        codes = dict(Customer.select(Customer.id, Customer.code).tuples())
        history = holdings.holdings_by_point()

        def points():
            # Round n holds the n-th holder of each point that had one: the first
            # round creates the points, each later one is a change of holder.
            for point in query.iterator():
                holding = history[point.id][round_ - 1] if len(history[point.id]) >= round_ else None
                if holding is None:
                    continue
                data = {**point.technical_data, **point.contract_data}
                yield ([point.code, codes[holding.customer_id], point.commodity, point.pdr_pod,
                        point.address, point.meter_serial, int(point.has_corrector),
                        point.meter_digits, _number_text(point.expected_annual_consumption),
                        holding.start_date.isoformat() if holding.start_date else ""]
                       + [data.get(name, "") for name in extras])
        return header, points()
    if kind == "invoices":
        header = list(InvoicesKind.columns)
        codes = dict(Customer.select(Customer.id, Customer.code).tuples())
        query = (Invoice
                 .select(Invoice, SupplyPoint.code)
                 .join(SupplyPoint)
                 .order_by(Invoice.date, Invoice.number))

        def invoices():
            for invoice in query.iterator():
                yield [invoice.number, invoice.supply_point.code, invoice.date.isoformat(),
                       invoice.period_start.isoformat(), invoice.period_end.isoformat(),
                       f"{invoice.amount:.2f}", invoice.due_date.isoformat(), int(invoice.paid),
                       _export_file(invoice.pdf_path, files_dir, out_dir),
                       codes.get(invoice.customer_id, ""), invoice.pagopa_notice or "",
                       invoice.pagopa_creditor or "", invoice.payment_link or "",
                       invoice.direct_debit_iban or ""]
        return header, invoices()
    if kind == "consumption":
        header = list(ConsumptionKind.columns)
        query = (BilledConsumption
                 .select(BilledConsumption, SupplyPoint.code)
                 .join(SupplyPoint)
                 .order_by(SupplyPoint.code, BilledConsumption.period_start))
        return header, ([row.supply_point.code, row.period_start.isoformat(),
                         row.period_end.isoformat(), _number_text(row.energy_f1),
                         _number_text(row.energy_f2), _number_text(row.energy_f3),
                         _number_text(row.energy_total), _number_text(row.max_power), row.unit,
                         row.reading_kind or ""]
                        for row in query.iterator())
    if kind == "measurements":
        header = list(MeasurementsKind.columns)
        # Ordered by time within each point: the repeated autumn hour comes out in the
        # order the importer reads it back.
        query = (Measurement
                 .select(SupplyPoint.code, Measurement.timestamp, Measurement.active_energy_kwh,
                         Measurement.power_kw)
                 .join(SupplyPoint)
                 .where(Measurement.visible())
                 .order_by(SupplyPoint.code, Measurement.timestamp)
                 .tuples())
        return header, ([code, local_timestamp(epoch), _number_text(energy), _number_text(power)]
                        for code, epoch, energy, power in query.iterator())
    if kind == "documents":
        header = list(DocumentsKind.columns)
        query = (Document
                 .select(Document, Customer.code)
                 .join(Customer)
                 .order_by(Customer.code, Document.date, Document.id))
        return header, ([document.customer.code, document.title, document.date.isoformat(),
                         _export_file(document.file_path, files_dir, out_dir)]
                        for document in query.iterator())
    if kind == "reading_windows":
        header = list(ReadingWindowsKind.columns)
        query = (ReadingWindow
                 .select(ReadingWindow, SupplyPoint.code)
                 .join(SupplyPoint, JOIN.LEFT_OUTER)
                 .order_by(ReadingWindow.start_at, ReadingWindow.id))
        return header, ([window.supply_point.code if window.supply_point_id else "*",
                         f"{window.start_at:%Y-%m-%d}", f"{window.start_at:%H:%M}",
                         f"{window.end_at:%Y-%m-%d}", f"{window.end_at:%H:%M}"]
                        for window in query.iterator())
    raise ValueError(kind)


def _export_file(relative, files_dir, out_dir):
    """Copy FILES_DIR/relative to OUT/files/relative; return the name for the CSV
    ("" when there is no file or it is missing)."""
    if not relative:
        return ""
    source = Path(files_dir) / relative
    if not source.is_file():
        click.echo(f"warning: {relative} is missing from {files_dir}: left out", err=True)
        return ""
    name = f"files/{relative}"
    target = Path(out_dir) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return name


EXPORTED_KINDS = ("customers", "supply_points", "invoices", "consumption", "measurements",
                  "documents", "reading_windows")


def export_all(out_dir):
    """Write the billing data of the database as files of the contract (plus
    files/ with the PDFs); return {kind: rows}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files_dir = current_app.config["FILES_DIR"]
    written = {}
    for kind in EXPORTED_KINDS:
        header, rows = _export_rows(kind, files_dir, out_dir)
        written[kind] = _write(out_dir, f"{kind}.csv", header, rows)
    # A point that changed hands: supply_points_02.csv holds its second holder,
    # _03 its third...; import-dir reads them in that order, after supply_points.csv.
    rounds = max((len(point_holdings) for point_holdings in holdings.holdings_by_point().values()),
                 default=1)
    for round_ in range(2, rounds + 1):
        header, rows = _export_rows("supply_points", files_dir, out_dir, round_)
        written["supply_points"] += _write(out_dir, f"supply_points_{round_:02d}.csv", header, rows)
    return written


def _write(out_dir, name, header, rows):
    """Write one CSV of the contract; return its number of lines."""
    count = 0
    partial = out_dir / f".{name}.part"
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=SEPARATOR, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            # People open these files in spreadsheets too: a customer-typed value
            # (an e-mail, a name) must not run as a formula. The importer reads
            # the apostrophe away again.
            writer.writerow([spreadsheet_safe(str(cell)) for cell in row])
            count += 1
    # Renamed only when complete: a drop folder never sees half a file.
    os.replace(partial, out_dir / name)
    return count


PAPERLESS_COLUMNS = ("customer_code", "paperless", "changed_at")


def export_paperless(out_dir):
    """Write `paperless_billing.csv` into out_dir: every customer who ever chose bolletta
    web on or off, with the choice (1/0) and when (Rome time). The whole state each
    time: the billing system keys on customer_code, so a file read twice changes
    nothing there. Returns the number of customers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    query = (Customer
             .select(Customer.code, Customer.paperless, Customer.paperless_changed_at)
             .where(Customer.paperless_changed_at.is_null(False))
             .order_by(Customer.code))
    rows = ([customer.code, int(customer.paperless),
             f"{local_datetime(customer.paperless_changed_at):%Y-%m-%d %H:%M}"]
            for customer in query.iterator())
    return _write(out_dir, "paperless_billing.csv", PAPERLESS_COLUMNS, rows)
