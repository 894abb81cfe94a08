"""The demo's database writes: the plans as rows, their PDF files on disk."""
import datetime
import io

from PIL import Image, ImageDraw

from models import (
    BilledConsumption,
    Customer,
    Document,
    Form,
    Holding,
    Invoice,
    Measurement,
    SelfReading,
    SupplyPoint,
)
from portal import passwords
from portal.backoffice import DEMO_OPERATOR_USERNAME
from portal.demo import billing, common, consumption, pdfs, records


def _write(files_dir, relative_path, content):
    path = files_dir / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _customer_row(customer):
    registered = customer.registered_at is not None
    return {
        "code": customer.code,
        "name": customer.name,
        "tax_code": customer.tax_code,
        "is_company": customer.is_company,
        "address": customer.address,
        "phone": customer.phone,
        "fax": customer.fax,
        "email": customer.email,
        # Salted: every registered customer gets a hash of its own.
        "password_hash": passwords.hash_password(common.DEMO_PASSWORD) if registered else None,
        "registered_at": customer.registered_at,
        "previous_login_at": customer.previous_login_at,
        "last_login_at": customer.last_login_at,
    }


def _point_row(point):
    return {
        "code": point.code,
        "customer": point.customer.id,
        "commodity": point.commodity,
        "pdr_pod": point.pdr_pod,
        "address": point.address,
        "meter_serial": point.meter_serial,
        "has_corrector": point.has_corrector,
        # Electricity meters keep the model's default.
        "meter_digits": point.meter_digits or SupplyPoint.meter_digits.default,
        "expected_annual_consumption": float(point.expected_annual),
        "technical_data": point.technical_data,
        "contract_data": point.contract_data,
    }


def _identity_line(customer):
    """How to use a fixed customer in the demo, for the log."""
    kind = "partita IVA" if customer.is_company else "codice fiscale"
    access = (f"password {common.DEMO_PASSWORD}" if customer.registered_at
              else "not registered (try the registration)")
    points = ", ".join(point.code for point in customer.points) or "none today"
    points += "".join(f"; held {point.code} until {point.holder_since:%d/%m/%Y}"
                      for point in customer.previous_points)
    return (f"customer {customer.code} {customer.name}, {kind} {customer.tax_code}: {access}; "
            f"supply points {points}")


def _insert_customers(planned):
    """Customers and supply points; the plans get their database ids."""
    common._insert(Customer, [_customer_row(customer) for customer in planned])
    customer_ids = dict(Customer.select(Customer.code, Customer.id).tuples())
    points = [point for customer in planned for point in customer.points]
    for customer in planned:
        customer.id = customer_ids[customer.code]
    common._insert(SupplyPoint, [_point_row(point) for point in points])
    point_ids = dict(SupplyPoint.select(SupplyPoint.code, SupplyPoint.id).tuples())
    for point in points:
        point.id = point_ids[point.code]
    _insert_holdings(points)
    return len(planned), len(points)


def _insert_holdings(points):
    """Each point's holdings: one since its first data, two for a point that changed hands."""
    rows = []
    for point in points:
        if point.previous_holder is None:
            rows.append((point.id, point.customer.id, None, None))
        else:
            rows += [(point.id, point.previous_holder.id, None, point.holder_since),
                     (point.id, point.customer.id, point.holder_since, None)]
    return common._insert(Holding, rows, [Holding.supply_point, Holding.customer,
                                          Holding.start_date, Holding.end_date])


def _insert_measurements(planned, today, rng, insert):
    """The last two years of the measured points; computed even when not inserted,
    because the billing of those points derives from them."""
    count = 0
    for point in consumption._measured_points(planned, rng):
        rows = consumption._measurement_series(point, common._add_months(today, -24), today, rng)
        if insert:
            count += common._insert(Measurement, rows,
                                    [Measurement.supply_point, Measurement.timestamp,
                                     Measurement.active_energy_kwh, Measurement.power_kw])
    return count


def _insert_invoices(points, today, rng, files_dir, company_name, with_pdfs):
    """Invoices with their PDFs and billed consumption; returns the invoice plans and
    the number of PDFs written."""
    invoices = [invoice for point in points
                for invoice in billing._plan_invoices(point, today, rng)]
    billing._number_invoices(invoices)
    invoice_rows, consumption_rows = [], []
    pdf_count = 0
    last_period = {}
    for invoice in invoices:
        last_period[invoice.point.id] = max(last_period.get(invoice.point.id, invoice.period_start),
                                            invoice.period_start)
    for invoice in invoices:
        point = invoice.point
        pdf_path = None
        if with_pdfs and invoice.with_pdf:
            pdf_path = f"invoices/{invoice.date.year}/{invoice.number}.pdf"
            _write(files_dir, pdf_path, pdfs._invoice_pdf(invoice, company_name))
            pdf_count += 1
        invoice_rows.append((invoice.number, point.id, invoice.customer.id, invoice.date,
                             invoice.period_start, invoice.period_end, invoice.total,
                             invoice.due_date, invoice.paid, pdf_path))
        f1, f2, f3 = invoice.bands or (None, None, None)
        consumption_rows.append((point.id, invoice.period_start, invoice.period_end, f1, f2, f3,
                                 float(invoice.energy), invoice.max_power,
                                 "Smc" if point.is_gas else "kWh",
                                 _reading_kind(point, invoice.period_start,
                                               invoice.period_start == last_period[point.id])))
    common._insert(Invoice, invoice_rows, [
        Invoice.number, Invoice.supply_point, Invoice.customer, Invoice.date, Invoice.period_start,
        Invoice.period_end, Invoice.amount, Invoice.due_date, Invoice.paid, Invoice.pdf_path])
    common._insert(BilledConsumption, consumption_rows, [
        BilledConsumption.supply_point, BilledConsumption.period_start,
        BilledConsumption.period_end, BilledConsumption.energy_f1, BilledConsumption.energy_f2,
        BilledConsumption.energy_f3, BilledConsumption.energy_total, BilledConsumption.max_power,
        BilledConsumption.unit, BilledConsumption.reading_kind])
    return invoices, pdf_count


def _reading_kind(point, period_start, is_last):
    """What a billed period rests on, without drawing from a random stream (the other
    demo data stay as they were): electricity is read remotely; gas is estimated one
    period in four and self-read one in four, and the fixed customers' last gas bill is
    an estimate, so their home page shows the note."""
    if not point.is_gas:
        return "letta"
    if is_last and point.customer.code in common.FIXED_CUSTOMERS:
        return "stimata"
    return ("stimata", "autolettura", "letta", "letta")[period_start.month % 4]


def _insert_documents(planned, invoices, today, rng, files_dir, company_name):
    invoices_by_customer = {}
    for invoice in invoices:
        invoices_by_customer.setdefault(invoice.customer.code, []).append(invoice)
    rows = []
    for customer in planned:
        for document in records._plan_documents(customer, invoices_by_customer, today, rng):
            _write(files_dir, document.file_path, pdfs._document_pdf(document, company_name))
            rows.append({"customer": customer.id, "title": document.title,
                         "date": document.date, "file_path": document.file_path})
    return common._insert(Document, rows)


def _insert_forms(today, files_dir, company_name):
    rows = []
    for age, form in enumerate(pdfs._FORMS):
        day = today - datetime.timedelta(days=90 + 137 * age)
        file_path = f"forms/{common._slug(form['title'])}.pdf"
        _write(files_dir, file_path, pdfs._form_pdf(form, day, company_name))
        rows.append({"title": form["title"], "date": day, "file_path": file_path})
    return common._insert(Form, rows)


def _insert_self_readings(planned, today, rng, files_dir=None):
    """Readings for the fixed customers' gas points and half of the others. On the
    fixed customers' points, the last acquired reading came by phone through the demo
    operator, and the newest one has a photo of the meter (written under files_dir,
    when given)."""
    rows = []
    for customer in planned:
        for point in customer.points:
            if point.is_gas and (customer.code in common.FIXED_CUSTOMERS or rng.random() < 0.5):
                planned_rows = records._plan_self_readings(point, today, rng)
                if customer.code in common.FIXED_CUSTOMERS and planned_rows:
                    _from_every_channel(planned_rows, point, files_dir)
                rows.extend(planned_rows)
    for row in rows:
        row.setdefault("channel", None)
        row.setdefault("operator", None)
        row.setdefault("photo_path", None)
    return common._insert(SelfReading, rows)


def _from_every_channel(rows, point, files_dir):
    """An acquired reading taken by phone, and a photo with the newest reading."""
    acquired = [row for row in rows if row["status"] == SelfReading.ACQUIRED]
    if acquired:
        acquired[-1].update(channel="telefono", operator=DEMO_OPERATOR_USERNAME)
    newest = rows[-1]
    if files_dir is not None:
        newest["photo_path"] = f"readings/{newest['reading_date'].year}/demo-{point.code}.jpg"
        _write(files_dir, newest["photo_path"], _meter_photo(newest["meter_reading"]))


def _meter_photo(meter_reading):
    """A drawing of a gas meter's window showing the reading, as a small JPEG."""
    image = Image.new("RGB", (480, 320), (214, 219, 223))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((40, 110, 440, 210), radius=12, fill=(20, 24, 28))
    draw.text((70, 135), f"{meter_reading:05d}", fill=(245, 245, 245), font_size=56)
    draw.text((40, 240), "m3", fill=(20, 24, 28), font_size=28)
    output = io.BytesIO()
    image.save(output, "JPEG", quality=80)
    return output.getvalue()
