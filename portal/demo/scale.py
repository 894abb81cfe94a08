"""Load-test demo databases at a real utility's size: `flask demo --scale medium|large`.

The default scale, `small`, is small.generate().

| scale  | customers | supply points | invoices (= billed periods) | 15-minute data        |
|--------|-----------|---------------|-----------------------------|-----------------------|
| medium | 20,000    | 25,000        | 500,000 (20 per point)      | 1 year of 100 points  |
| large  | 200,000   | 250,000       | 5,000,000                   | 1 year of 1,000 points|

The rows come from the same planners as the small demo (tax codes, addresses, tariffs,
bills, meter positions, load curves), with what makes them fast at this size:

- customers are planned, inserted and forgotten a chunk at a time: memory stays flat
  whatever the scale;
- rows go in with `executemany` on SQLite (`insert_many` batches elsewhere), all in one
  transaction: a failure leaves the database empty;
- every point has exactly its last 20 billing periods (households two-monthly,
  businesses monthly), not every bill since 2014;
- one argon2 hash of DEMO_PASSWORD serves every registered customer (a hash takes
  ~60 ms: 200,000 of them would take hours). Every customer but 123456 is registered,
  so a load test can log in with any code;
- PDFs only for a sample: the newest 12 invoices (the first page of "Elenco
  fatture") of the points of the first SAMPLE_CUSTOMERS customers, their personal
  letters, the forms, and one "Condizioni generali di fornitura" file that every
  customer's "I miei documenti" lists;
- on SQLite, while generating only: no fsync (synchronous=OFF), a rollback journal
  instead of the WAL (an empty database has nothing to journal) and a large page
  cache; afterwards WAL and synchronous=FULL again, then ANALYZE so that the query
  planner knows the tables' sizes.

"Sample" customers (the two fixed demo customers first, then customers with a gas and
an electricity point) own the measured electricity points: a load test finds every
page populated for them (`sample_customers()`).
"""
import dataclasses
import datetime
import itertools
import random
import time
from pathlib import Path

from fpdf import XPos, YPos
from peewee import SqliteDatabase

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
from portal import passwords
from portal.demo import (billing, common, consumption, pdfs, people, plans, records, small,
                         supply, writes)


@dataclasses.dataclass(frozen=True)
class Scale:
    customers: int
    supply_points: int
    invoices_per_point: int
    measured_points: int


SCALES = {
    "medium": Scale(customers=20_000, supply_points=25_000, invoices_per_point=20,
                    measured_points=100),
    "large": Scale(customers=200_000, supply_points=250_000, invoices_per_point=20,
                   measured_points=1_000),
}
# Customers whose newest invoices and letters get real PDF files.
SAMPLE_CUSTOMERS = 100
SAMPLE_PDF_INVOICES = 12
CHUNK = 2_000  # customers planned and inserted at a time
GENERAL_TERMS = "documents/condizioni-generali-di-fornitura.pdf"
GENERAL_TERMS_TITLE = "Condizioni generali di fornitura"
_GENERAL_TERMS_TEXT = (
    "Le presenti condizioni regolano la fornitura di gas naturale e di energia elettrica ai "
    "clienti finali, secondo la regolazione dell'Autorità di Regolazione per Energia Reti e "
    "Ambiente (ARERA) vigente.",
    "Il contratto è a tempo indeterminato; il cliente può recedere in ogni momento senza "
    "oneri, con le modalità indicate nella Scheda di confrontabilità.",
    "Le fatture sono emesse con la periodicità indicata nel contratto e si pagano entro la "
    "scadenza indicata in bolletta; l'autolettura del contatore gas si comunica nei periodi "
    "indicati nell'Area Clienti.",
)
_SQLITE_BATCH = 50_000
_MAX_PARAMETERS = 32_000


@dataclasses.dataclass
class _ScalePoint(plans._PointPlan):
    """A point billed from `billed_from` (its last N periods), not from 2014."""

    billed_from: datetime.date | None = None

    @property
    def first_billed_month(self):
        return self.billed_from


# ---------------------------------------------------------------------------
# Bulk writes
# ---------------------------------------------------------------------------

def _bulk(model, fields, rows):
    """Insert tuples (in `fields` order); executemany on SQLite, batches elsewhere."""
    if not rows:
        return 0
    database = models.db.obj
    if isinstance(database, SqliteDatabase):
        # Raw SQL skips Peewee's defaults: the columns left out get theirs here.
        # (Names, not fields: `field in fields` would build SQL expressions.)
        named = {field.name for field in fields}
        defaults = [(field, field.db_value(field.default() if callable(field.default)
                                           else field.default))
                    for field in model._meta.sorted_fields
                    if field.name not in named and not field.primary_key
                    and field.default is not None]
        if defaults:
            fields = list(fields) + [field for field, _ in defaults]
            extra = tuple(value for _, value in defaults)
            rows = [row + extra for row in rows]
        # Peewee writes the statement (one row of placeholders); executemany reuses it.
        sql, _ = model.insert_many([[None] * len(fields)], fields=fields).sql()
        cursor = database.cursor()
        for first in range(0, len(rows), _SQLITE_BATCH):
            cursor.executemany(sql, rows[first:first + _SQLITE_BATCH])
    else:
        size = max(1, _MAX_PARAMETERS // len(fields))
        for first in range(0, len(rows), size):
            model.insert_many(rows[first:first + size], fields=fields).execute()
    return len(rows)


class _FastLoad:
    """SQLite pragmas for one big load into an empty database, restored afterwards."""

    def __enter__(self):
        self.sqlite = isinstance(models.db.obj, SqliteDatabase)
        if self.sqlite:
            db = models.db
            self.journal = db.pragma("journal_mode")
            # A rollback journal only keeps pages that existed before: nothing, here.
            db.pragma("journal_mode", "delete")
            db.pragma("synchronous", "off")
            db.pragma("cache_size", -262144)  # 256 MiB
            db.pragma("temp_store", "memory")
        return self

    def __exit__(self, *exc):
        if self.sqlite:
            db = models.db
            db.pragma("journal_mode", self.journal)
            db.pragma("synchronous", models.SQLITE_PRAGMAS["synchronous"])
            db.pragma("cache_size", -2000)
        return False


# ---------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------

def _billed_from(business, today, periods):
    """The 1st of the first of the last `periods` billing periods issued by `today`
    (a bill comes out 3 to 12 days after its period ends)."""
    length = 1 if business else 2
    horizon = today - datetime.timedelta(days=13)
    # The period containing `horizon` has not been billed for sure: stop before it.
    current = horizon.replace(day=1, month=horizon.month - (horizon.month - 1) % length)
    return common._add_months(current, -length * periods)


def _as_scale_point(point, today, periods):
    values = {item.name: getattr(point, item.name) for item in dataclasses.fields(point)}
    billed_from = _billed_from(point.business, today, periods)
    values["contract_start"] = min(point.contract_start, billed_from)
    return _ScalePoint(**values, billed_from=billed_from)


def _point(rng, codes, customer, commodity, address, business, today, periods):
    """A gas or electricity point with the yearly consumption of its customer type."""
    start = supply._contract_start(rng, today)
    if commodity == common.GAS:
        annual = rng.uniform(2000, 20000) if business else rng.uniform(600, 1600)
        plan = supply._gas_point(codes, rng, customer, address, annual,
                                 "Altri usi" if business else "Domestico residente",
                                 business, start, code=codes.next_code(), pdr=codes.pdr())
    else:
        annual = rng.uniform(8000, 80000) if business else rng.uniform(1800, 3500)
        plan = supply._power_point(codes, rng, customer, address, annual,
                                   "Altri usi" if business else "Domestico residente",
                                   business, start, code=codes.next_code(), pod=codes.pod())
    return _as_scale_point(plan, today, periods)


class _ScaleCodes(supply._Codes):
    """Point codes PR100000-PR999999 in random order (the small demo's 4-digit range
    holds 8,900); the fixed customers' PR00xxxx never collide with them."""

    def __init__(self, rng, count):
        super().__init__(rng)
        self._codes = iter(rng.sample(range(100_000, 1_000_000), count))

    def next_code(self):
        code = f"PR{next(self._codes)}"
        self.used.add(code)
        return code


def _person(rng, code, used_tax_codes):
    female = rng.random() < 0.5
    while True:
        surname = rng.choice(people._SURNAMES)
        first_name = rng.choice(people._FEMALE_NAMES if female else people._MALE_NAMES)
        birth = datetime.date(1938, 1, 1) + datetime.timedelta(days=rng.randrange(64 * 365))
        tax_code = people._codice_fiscale(surname, first_name, birth, female,
                                          common._weighted(rng, people._BIRTHPLACES))
        if tax_code not in used_tax_codes:
            break
    used_tax_codes.add(tax_code)
    comune = supply._comune(rng)
    late_payer = rng.random() < 0.12
    return plans._CustomerPlan(
        code=code, name=f"{surname} {first_name}", tax_code=tax_code, is_company=False,
        address=supply._address(rng, comune), comune=comune,
        phone=supply._mobile(rng) if rng.random() < 0.7 else supply._landline(rng, comune),
        # The code keeps 200,000 addresses unique without a search.
        email=f"{first_name}.{surname}.{code}@example.it".lower().replace(" ", "").replace("'", ""),
        payment_method=plans.BOLLETTINO if late_payer or rng.random() < 0.4 else plans.SDD,
        late_payer=late_payer)


def _company(rng, code, used_tax_codes):
    activity = rng.choice(people._ACTIVITIES)[0]
    name = supply._company_name(rng, activity)
    comune = supply._comune(rng)
    while True:
        tax_code = people._partita_iva(rng.randrange(100000, 3000000),
                                       people._VAT_OFFICES[comune.province])
        if tax_code not in used_tax_codes:
            break
    used_tax_codes.add(tax_code)
    phone = supply._landline(rng, comune)
    late_payer = rng.random() < 0.12
    return plans._CustomerPlan(
        code=code, name=name, tax_code=tax_code, is_company=True,
        address=supply._address(rng, comune, people._BUSINESS_STREETS), comune=comune,
        phone=phone, email=f"amministrazione.{code}@example.com",
        payment_method=plans.BONIFICO if late_payer else rng.choice((plans.SDD, plans.BONIFICO)),
        late_payer=late_payer)


def _invoice_plans(point, today, rng, periods, pdf_count):
    """Exactly `periods` invoices; the newest `pdf_count` get a PDF."""
    invoices = []
    for start, end in itertools.islice(billing._billing_periods(point, today), periods):
        issued = end + datetime.timedelta(days=rng.randint(3, 12))
        energy, bands, max_power = billing._billed_energy(point, start, end, rng)
        lines, taxable, vat = billing._bill_lines(point, energy, start, end)
        invoices.append(plans._InvoicePlan(point, issued, start, end, energy, bands,
                                           max_power, lines, taxable, vat, False))
    for invoice in invoices[len(invoices) - pdf_count:] if pdf_count else ():
        invoice.with_pdf = True
    for invoice in invoices[-(2 if point.customer.late_payer else 1):]:
        invoice.paid = False
    return invoices


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------

_INVOICE_FIELDS = [Invoice.number, Invoice.supply_point, Invoice.customer, Invoice.date,
                   Invoice.period_start,
                   Invoice.period_end, Invoice.amount, Invoice.due_date, Invoice.paid,
                   Invoice.pdf_path]
_CONSUMPTION_FIELDS = [BilledConsumption.supply_point, BilledConsumption.period_start,
                       BilledConsumption.period_end, BilledConsumption.energy_f1,
                       BilledConsumption.energy_f2, BilledConsumption.energy_f3,
                       BilledConsumption.energy_total, BilledConsumption.max_power,
                       BilledConsumption.unit]
_MEASUREMENT_FIELDS = [Measurement.supply_point, Measurement.timestamp,
                       Measurement.active_energy_kwh, Measurement.power_kw]
_READING_FIELDS = [SelfReading.supply_point, SelfReading.customer, SelfReading.reading_date,
                   SelfReading.meter_reading, SelfReading.corrector_reading, SelfReading.status,
                   SelfReading.submitted_at, SelfReading.acquired_at, SelfReading.outcome,
                   SelfReading.outcome_reason]
_CUSTOMER_FIELDS = [Customer.code, Customer.name, Customer.tax_code, Customer.is_company,
                    Customer.address, Customer.phone, Customer.fax, Customer.email,
                    Customer.password_hash, Customer.registered_at,
                    Customer.previous_login_at, Customer.last_login_at]
_POINT_FIELDS = [SupplyPoint.code, SupplyPoint.customer, SupplyPoint.commodity,
                 SupplyPoint.pdr_pod, SupplyPoint.address, SupplyPoint.meter_serial,
                 SupplyPoint.has_corrector, SupplyPoint.meter_digits,
                 SupplyPoint.expected_annual_consumption, SupplyPoint.technical_data,
                 SupplyPoint.contract_data]


class _Generator:
    def __init__(self, files_dir, size, seed, today, company_name, log):
        self.files_dir = files_dir
        self.size = size
        self.today = today
        self.company_name = company_name
        self.log = log
        self.started = time.perf_counter()
        master = random.Random(seed)
        self.rng = {step: random.Random(master.getrandbits(64))
                    for step in ("customers", "consumption", "measurements", "billing",
                                 "documents", "readings")}
        self.counts = dict.fromkeys(
            ("Customer", "SupplyPoint", "Invoice", "BilledConsumption", "Measurement",
             "Document", "Form", "ReadingWindow", "SelfReading"), 0)
        self.pdfs = 0
        self.invoice_sequence = {}
        self.password_hash = passwords.hash_password(common.DEMO_PASSWORD)

    def progress(self, message):
        self.log(f"[{time.perf_counter() - self.started:6.1f} s] {message}")

    def plan_customers(self):
        """(customer plans in order, set of two-point customer indexes). The fixed
        customers come first; every later customer has one point, or two (gas and
        electricity) so that the points add up to the scale's count."""
        rng, size = self.rng["customers"], self.size
        self.codes = _ScaleCodes(rng, size.supply_points)
        fixed = [self._fixed(customer) for customer in
                 supply._fixed_customers(self.codes, rng, self.today)]
        scaled = {point.code: point for customer in fixed for point in customer.points}
        for customer in fixed:
            customer.previous_points = [scaled[point.code] for point in customer.previous_points]
        others = size.customers - len(fixed)
        two_points = size.supply_points - sum(len(c.points) for c in fixed) - others
        if not 0 <= two_points <= others:
            raise ValueError(f"{size}: every customer needs one or two supply points")
        self.two_point = set(rng.sample(range(others), two_points))
        codes = [str(code) for code in rng.sample(range(100000, 1000000),
                                                  others + len(common.FIXED_CUSTOMERS))
                 if str(code) not in common.FIXED_CUSTOMERS][:others]
        self.used_tax_codes = {customer.tax_code for customer in fixed}
        # The measured points: the fixed customers' electricity points, then those of
        # the first two-point customers; the first SAMPLE_CUSTOMERS of them get PDFs.
        ordered = sorted(self.two_point)[:max(0, size.measured_points - 2)]
        self.measured_customers = set(ordered)
        self.sample = set(ordered[:max(0, SAMPLE_CUSTOMERS - len(fixed))])
        return fixed, codes

    def _fixed(self, customer):
        customer.points = [_as_scale_point(point, self.today, self.size.invoices_per_point)
                           for point in customer.points]
        for point in customer.points:
            point.customer = customer
        customer.sample = customer.measured = True
        return customer

    def plan_other(self, index, code):
        rng = self.rng["customers"]
        business = rng.random() < 0.3
        customer = (_company(rng, code, self.used_tax_codes) if business
                    else _person(rng, code, self.used_tax_codes))
        customer.registered_at, customer.previous_login_at, customer.last_login_at = (
            supply._login_history(rng, self.today))
        periods = self.size.invoices_per_point
        if index in self.two_point:
            commodities = (common.GAS, common.ELECTRICITY)
        else:
            commodities = (common.GAS if rng.random() < 0.6 else common.ELECTRICITY,)
        customer.points = [_point(rng, self.codes, customer, commodity, customer.address,
                                  business, self.today, periods)
                           for commodity in commodities]
        customer.sample = index in self.sample
        customer.measured = index in self.measured_customers
        return customer

    def insert_chunk(self, customers):
        """Every row of these customers; their plans are dropped afterwards."""
        rows = []
        for customer in customers:
            registered = customer.registered_at is not None
            rows.append((customer.code, customer.name, customer.tax_code, customer.is_company,
                         customer.address, customer.phone, customer.fax, customer.email,
                         self.password_hash if registered else None, customer.registered_at,
                         customer.previous_login_at, customer.last_login_at))
        self.counts["Customer"] += _bulk(Customer, _CUSTOMER_FIELDS, rows)
        ids = dict(Customer.select(Customer.code, Customer.id)
                   .where(Customer.code.in_([customer.code for customer in customers]))
                   .tuples())
        points = []
        for customer in customers:
            customer.id = ids[customer.code]
            points.extend(customer.points)
        # Technical and contract data (meter class, pressure) come from this plan.
        consumption._plan_consumption(points, self.today, self.rng["consumption"])
        self.counts["SupplyPoint"] += _bulk(SupplyPoint, _POINT_FIELDS, [
            (point.code, point.customer.id, point.commodity, point.pdr_pod, point.address,
             point.meter_serial, point.has_corrector,
             point.meter_digits or SupplyPoint.meter_digits.default,
             float(point.expected_annual), SupplyPoint.technical_data.db_value(point.technical_data),
             SupplyPoint.contract_data.db_value(point.contract_data)) for point in points])
        point_ids = dict(SupplyPoint.select(SupplyPoint.code, SupplyPoint.id)
                         .where(SupplyPoint.code.in_([point.code for point in points]))
                         .tuples())
        for point in points:
            point.id = point_ids[point.code]
        writes._insert_holdings(points)
        self._measurements(customers)
        invoices = self._invoices(points)
        self._documents(customers, invoices)
        self._self_readings(customers)

    def _measurements(self, customers):
        first_day = common._add_months(self.today, -12)
        rng = self.rng["measurements"]
        for customer in customers:
            if not customer.measured:
                continue
            for point in customer.points:
                if not point.is_gas:
                    rows = consumption._measurement_series(point, first_day, self.today, rng)
                    self.counts["Measurement"] += _bulk(Measurement, _MEASUREMENT_FIELDS, rows)

    def _invoices(self, points):
        rng = self.rng["billing"]
        invoice_rows, consumption_rows, by_customer = [], [], {}
        for point in points:
            pdf_count = SAMPLE_PDF_INVOICES if point.customer.sample else 0
            for invoice in _invoice_plans(point, self.today, rng,
                                          self.size.invoices_per_point, pdf_count):
                year = invoice.date.year
                self.invoice_sequence[year] = self.invoice_sequence.get(year, 0) + 1
                invoice.number = f"FT{year}-{self.invoice_sequence[year]:06d}"
                pdf_path = None
                if invoice.with_pdf:
                    pdf_path = f"invoices/{year}/{invoice.number}.pdf"
                    writes._write(self.files_dir, pdf_path,
                                  pdfs._invoice_pdf(invoice, self.company_name))
                    self.pdfs += 1
                invoice_rows.append((invoice.number, point.id, invoice.customer.id, invoice.date,
                                     invoice.period_start, invoice.period_end, invoice.total,
                                     invoice.due_date, invoice.paid, pdf_path))
                f1, f2, f3 = invoice.bands or (None, None, None)
                consumption_rows.append((point.id, invoice.period_start, invoice.period_end,
                                         f1, f2, f3, float(invoice.energy), invoice.max_power,
                                         "Smc" if point.is_gas else "kWh"))
                if point.customer.sample:
                    by_customer.setdefault(point.customer.code, []).append(invoice)
        self.counts["Invoice"] += _bulk(Invoice, _INVOICE_FIELDS, invoice_rows)
        self.counts["BilledConsumption"] += _bulk(BilledConsumption, _CONSUMPTION_FIELDS,
                                                  consumption_rows)
        return by_customer

    def _documents(self, customers, invoices_by_customer):
        rng = self.rng["documents"]
        rows = []
        for customer in customers:
            first_start = min(point.contract_start for point in customer.contract_points)
            rows.append((customer.id, GENERAL_TERMS_TITLE, first_start, GENERAL_TERMS))
            if customer.sample:
                for document in records._plan_documents(customer, invoices_by_customer,
                                                        self.today, rng):
                    writes._write(self.files_dir, document.file_path,
                                  pdfs._document_pdf(document, self.company_name))
                    rows.append((customer.id, document.title, document.date,
                                 document.file_path))
        self.counts["Document"] += _bulk(
            Document, [Document.customer, Document.title, Document.date, Document.file_path],
            rows)

    def _self_readings(self, customers):
        """Readings for the sample customers' gas points and half of the others."""
        rng = self.rng["readings"]
        rows = []
        for customer in customers:
            for point in customer.points:
                if point.is_gas and (customer.sample or rng.random() < 0.5):
                    rows.extend(tuple(row[field.name] for field in _READING_FIELDS)
                                for row in records._plan_self_readings(point, self.today, rng))
        self.counts["SelfReading"] += _bulk(SelfReading, _READING_FIELDS, rows)

    def general_terms(self):
        """The one file every customer's document list points to."""
        pdf = pdfs._new_pdf(GENERAL_TERMS_TITLE, self.today, self.company_name)
        pdfs._letterhead(pdf, self.company_name)
        pdf.set_xy(15, 34)
        pdf.set_font("helvetica", "B", 14)
        pdf.cell(0, 8, GENERAL_TERMS_TITLE)
        pdf.set_xy(15, 48)
        pdf.set_font("helvetica", "", 10)
        for paragraph in _GENERAL_TERMS_TEXT:
            pdf.multi_cell(180, 5, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(3)
        writes._write(self.files_dir, GENERAL_TERMS, bytes(pdf.output()))

    def run(self):
        fixed, codes = self.plan_customers()
        self.general_terms()
        self.counts["Form"] = writes._insert_forms(self.today, self.files_dir, self.company_name)
        self.counts["ReadingWindow"] = common._insert(ReadingWindow,
                                                      records._reading_windows(self.today))
        pending = list(fixed)
        for index, code in enumerate(codes):
            pending.append(self.plan_other(index, code))
            if len(pending) >= CHUNK:
                self.insert_chunk(pending)
                pending = []
                if self.counts["Customer"] % (CHUNK * 5) == 0:
                    self.progress(self.summary())
        if pending:
            self.insert_chunk(pending)
        self.progress(self.summary())
        return fixed

    def summary(self):
        return ", ".join(f"{count:,} {name}" for name, count in self.counts.items()
                         if name not in ("Form", "ReadingWindow")) + f", {self.pdfs:,} PDF"


def generate(files_dir, *, scale="medium", seed=small.DEFAULT_SEED, today=None,
             company_name=small.COMPANY_NAME, log=print):
    """Fill the bound, empty database with a `scale` demo (a name of SCALES, or a Scale)
    and its sample files under files_dir. Returns the row count of every model filled, by name."""
    if not isinstance(scale, Scale):
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}")
        scale = SCALES[scale]
    files_dir = Path(files_dir)
    today = today or models.rome_now().date()
    generator = _Generator(files_dir, scale, seed, today, company_name, log)
    existing = Customer.select().count()
    if existing:
        raise RuntimeError(f"The database already has {existing} customers: demo data "
                           "is only loaded into an empty database.")
    with _FastLoad():
        with models.db.atomic():
            fixed = generator.run()
    if isinstance(models.db.obj, SqliteDatabase):
        # Table sizes for the query planner; a bounded sample keeps it quick.
        models.db.execute_sql("PRAGMA analysis_limit=1000")
        models.db.execute_sql("ANALYZE")
        generator.progress("ANALYZE done")
    for customer in fixed:
        generator.log(writes._identity_line(customer))
    generator.log(f"Every other customer is registered with password {common.DEMO_PASSWORD}.")
    return dict(generator.counts)


def sample_customers(limit=None):
    """Registered customers with a gas point and a measured electricity point, first
    generated first: the customers a load test logs in with. [(code, gas point code,
    electricity point code)]."""
    measured = (Measurement.select(Measurement.supply_point).distinct())
    electricity = (SupplyPoint.select(SupplyPoint.customer, SupplyPoint.code)
                   .where(SupplyPoint.id.in_(measured)))
    rows = {}
    for customer_id, code in electricity.tuples():
        rows.setdefault(customer_id, code)
    gas = {}
    for customer_id, code in (SupplyPoint.select(SupplyPoint.customer, SupplyPoint.code)
                              .where((SupplyPoint.customer.in_(list(rows)))
                                     & (SupplyPoint.commodity == SupplyPoint.GAS))
                              .order_by(SupplyPoint.code).tuples()):
        gas.setdefault(customer_id, code)
    customers = (Customer.select(Customer.id, Customer.code)
                 .where(Customer.id.in_(list(gas)) & Customer.registered_at.is_null(False))
                 .order_by(Customer.id))
    if limit:
        customers = customers.limit(limit)
    return [(customer.code, gas[customer.id], rows[customer.id]) for customer in customers]
