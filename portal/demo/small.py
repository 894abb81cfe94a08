"""The realistic demo, `flask demo`: generate() runs every step, one transaction."""
import random
import time
from pathlib import Path

import models
from models import Customer, ReadingWindow
from portal.demo import common, consumption, records, supply, writes

COMPANY_NAME = "Energia Colline Toscane S.p.A."
DEFAULT_SEED = 20150215


def generate(files_dir, *, seed=DEFAULT_SEED, today=None, customers=50,
             company_name=COMPANY_NAME, pdfs=True, measurements=True, log=print):
    """Fill the bound, empty database with demo data and write its files under
    files_dir (invoices/, documents/, forms/). Returns the row count of every model
    filled, by model name; the log ends with how to use the two fixed customers.

    `pdfs=False` skips the invoice PDFs (pdf_path stays None) and
    `measurements=False` skips inserting the measurements; all other data stays the
    same as with them, so quick runs can check reproducibility."""
    started = time.perf_counter()
    files_dir = Path(files_dir)
    today = today or models.rome_now().date()
    if customers < len(common.FIXED_CUSTOMERS):
        raise ValueError(f"customers must be at least {len(common.FIXED_CUSTOMERS)}: the fixed "
                         "demo customers.")
    master = random.Random(seed)
    # One stream per step: skipping PDFs or measurements cannot shift the others.
    rng = {step: random.Random(master.getrandbits(64))
           for step in ("customers", "consumption", "measurements", "billing", "documents",
                        "readings", "tickets")}

    def progress(message):
        log(f"[{time.perf_counter() - started:5.1f} s] {message}")

    counts = {}
    # One transaction: a failure leaves the database empty, ready for another try.
    with models.db.atomic():
        existing = Customer.select().count()
        if existing:
            raise RuntimeError(f"The database already has {existing} customers: demo data "
                               "is only loaded into an empty database.")
        planned = supply._plan_customers(rng["customers"], customers, today)
        points = [point for customer in planned for point in customer.points]
        consumption._plan_consumption(points, today, rng["consumption"])
        counts["Customer"], counts["SupplyPoint"] = writes._insert_customers(planned)
        progress(f"{counts['Customer']} customers, {counts['SupplyPoint']} supply points")
        counts["Measurement"] = writes._insert_measurements(planned, today,
                                                            rng["measurements"], measurements)
        progress(f"{counts['Measurement']} measurements")
        invoices, pdf_count = writes._insert_invoices(points, today, rng["billing"],
                                                      files_dir, company_name, pdfs)
        counts["Invoice"] = counts["BilledConsumption"] = len(invoices)
        progress(f"{len(invoices)} invoices ({pdf_count} PDF) and billed consumption rows")
        counts["Document"] = writes._insert_documents(planned, invoices, today,
                                                      rng["documents"], files_dir, company_name)
        counts["Form"] = writes._insert_forms(today, files_dir, company_name)
        progress(f"{counts['Document']} documents, {counts['Form']} forms")
        counts["ReadingWindow"] = common._insert(ReadingWindow, records._reading_windows(today))
        counts["SelfReading"] = writes._insert_self_readings(planned, today, rng["readings"],
                                                             files_dir)
        progress(f"{counts['ReadingWindow']} reading windows, "
                 f"{counts['SelfReading']} self-readings")
        counts["Ticket"], counts["TicketMessage"] = records._insert_tickets(planned, today,
                                                                            rng["tickets"])
        progress(f"{counts['Ticket']} tickets")
        counts["NoticeOptOut"] = records._choose_notices(today)
        mandates = records._set_payment_ways()
        progress(f"ways to pay on the demo customers' unpaid invoices, {mandates} mandate")
        counts["PaymentReport"] = records._report_payments(files_dir, writes._write)
        progress(f"{counts['PaymentReport']} reported payments")

    files_bytes = sum(path.stat().st_size for path in files_dir.rglob("*") if path.is_file())
    progress(f"done: {files_bytes / 1e6:.1f} MB of files in {files_dir}")
    for customer in planned[:len(common.FIXED_CUSTOMERS)]:
        log(writes._identity_line(customer))
    return counts
