"""The kinds of file of the contract: their columns, the checks of a line, the merge."""
import datetime
import re

from peewee import (
    EXCLUDED,
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    Expression,
    FloatField,
    ForeignKeyField,
    IntegerField,
    SqliteDatabase,
    TextField,
    Value,
    chunked,
    fn,
)

import models
from models import (
    BilledConsumption,
    Customer,
    Document,
    Holding,
    DirectDebitMandate,
    Invoice,
    Measurement,
    ReadingWindow,
    SelfReading,
    SupplyPoint,
)
from portal import holdings
from portal.exchange.files import safe_file_name
from portal.formatting import spreadsheet_text
from portal.exchange.values import (
    REQUIRED,
    BadValue,
    Column,
    FileRefused,
    LineError,
    LocalTimeParser,
    shown,
    choice_of,
    integer_between,
    parse_amount,
    parse_bool,
    parse_customer_code,
    parse_date,
    parse_email,
    parse_creditor_code,
    parse_debited_iban,
    parse_invoice_number,
    parse_pagopa_notice,
    parse_payment_link,
    parse_point_code,
    parse_quantity,
    parse_tax_code,
    parse_time,
    text_of,
)

_QUANTITY = re.compile(r"\d+(?:[.,]\d+)?\Z", re.ASCII)
_PDR = re.compile(r"\d{14}\Z", re.ASCII)
_POD = re.compile(r"IT\d{3}E\d{8}\Z", re.ASCII)
_EXTRA_COLUMN = re.compile(r"(tech|contract)_[a-z0-9_]{1,60}\Z", re.ASCII)


class Kind:
    """One kind of file of the contract. A new instance serves one import."""

    name = ""
    model = None
    description = ""
    columns = {}
    # Fields of the model filled from a line, in the order convert() returns them.
    fields = ()
    key = ()
    # Column -> the fields it updates on an existing row (default: the same name).
    updates = {}
    key_label = ""
    extra_hint = ""
    # Merged in many short transactions and shown at once (batched.py), instead of
    # in one transaction: for the kinds whose files run to millions of lines.
    merged_in_batches = False

    def __init__(self, files=None):
        self.files = files
        self.header = []
        self.index = {}

    # -- header ---------------------------------------------------------------
    def accepts_extra(self, column):
        return False

    def expected_columns(self):
        return ";".join(self.columns)

    def set_header(self, names):
        """Check the header: known names (case-insensitive, order free), each once,
        every required one present."""
        if len(names) == 1:
            only = names[0]
            for separator, label in ((",", "','"), ("\t", "a tab"), ("|", "'|'")):
                if separator in only:
                    raise FileRefused(f"the header is separated by {label}: the separator "
                                      f"must be ';'. Expected columns: {self.expected_columns()}")
        header = [name.strip().lower() for name in names]
        if "" in header:
            raise FileRefused(f"column {header.index('') + 1} of the header has no name (a ';' "
                              f"too many?); expected (';'-separated, any order): "
                              f"{self.expected_columns()}")
        seen = set()
        for name in header:
            if name in seen:
                raise FileRefused(f"column '{name}' appears twice in the header; expected "
                                  f"(';'-separated, any order): {self.expected_columns()}",
                                  column=name)
            seen.add(name)
        unknown = [name for name in header
                   if name not in self.columns and not self.accepts_extra(name)]
        if unknown:
            raise FileRefused(f"unknown column(s) {', '.join(repr(n) for n in unknown)} in a "
                              f"{self.name} file; expected (';'-separated, any order): "
                              f"{self.expected_columns()}{self.extra_hint}", column=unknown[0])
        missing = [name for name, column in self.columns.items()
                   if column.required and name not in seen]
        if missing:
            raise FileRefused(f"missing column(s) {', '.join(missing)} in the header; expected "
                              f"(';'-separated, any order): {self.expected_columns()}",
                              column=missing[0])
        self.header = header
        self.index = {name: position for position, name in enumerate(header)}
        self._present = [(name, self.index[name], column)
                         for name, column in self.columns.items() if name in self.index]
        self._absent = [(name, column) for name, column in self.columns.items()
                        if name not in self.index]

    # -- lines ----------------------------------------------------------------
    def start(self):
        """Load what the lines refer to (codes only)."""

    def read(self, row):
        """The values of a line by column, and the problems found."""
        values, problems = {}, []
        for name, position, column in self._present:
            raw = spreadsheet_text(row[position].strip())
            if not raw:
                if column.blank is REQUIRED:
                    problems.append((name, "empty: a value is required"))
                    values[name] = None
                else:
                    values[name] = column.blank
                continue
            try:
                values[name] = column.parse(raw)
            except BadValue as error:
                problems.append((name, str(error)))
                values[name] = None
        for name, column in self._absent:
            values[name] = None if column.blank is REQUIRED else column.blank
        return values, problems

    def convert(self, row):
        """The staged values of a good line (a tuple in `fields` order), or LineError."""
        values, problems = self.read(row)
        result = self.build(values, problems)
        if problems:
            raise LineError(problems)
        return result

    def build(self, values, problems):
        raise NotImplementedError

    # -- helpers for build() ----------------------------------------------------
    @staticmethod
    def check_period(values, problems, start="period_start", end="period_end"):
        if values.get(start) and values.get(end) and values[end] < values[start]:
            problems.append((end, f"{values[end]:%d/%m/%Y} is before {start} "
                                  f"{values[start]:%d/%m/%Y}"))

    def supply_point(self, values, problems, commodity=None, column="supply_point_code"):
        """(id, commodity) of the referenced supply point, or None with a problem."""
        code = values.get(column)
        if code is None:
            return None
        point = self.points.get(code)
        if point is None:
            problems.append((column, f"no supply point {code} (import supply_points first)"))
            return None
        if commodity and point[1] != commodity:
            problems.append((column, f"{code} is a {point[1]} supply point, "
                                     f"{self.name} are for {commodity} points only"))
            return None
        return point

    def load_points(self):
        self.points = {code: (point_id, commodity) for point_id, code, commodity in
                       SupplyPoint.select(SupplyPoint.id, SupplyPoint.code, SupplyPoint.commodity)
                       .tuples().iterator()}

    def load_customers(self):
        self.customers = dict(Customer.select(Customer.code, Customer.id).tuples().iterator())

    # -- staging and merge ----------------------------------------------------------
    def staging_fields(self):
        """Columns of the staging table: one per entry of `fields`."""
        return [(name, _staging_field(self.model._meta.fields[name])) for name in self.fields]

    def key_of(self, staging):
        return [getattr(staging, name) for name in self.key]

    def update_fields(self):
        """Fields an existing row takes from the file: those of the header's columns."""
        names = []
        for column in self.header:
            for name in self.updates.get(column, (column,)):
                if name in self.fields and name not in self.key and name not in names:
                    names.append(name)
        return names

    def merge(self, staging, counts):
        """Upsert the staged rows; fill counts (new, changed, unchanged)."""
        model = self.model
        key = [model._meta.fields[name] for name in self.key]
        staged = staging.select().count()
        existing = (staging
                    .select()
                    .join(model, on=all_equal(zip(self.key_of(staging), key)))
                    .count())
        updates = {}
        for name in self.update_fields():
            target = model._meta.fields[name]
            updates[target] = self.updated_value(target)
        columns = [getattr(staging, name) for name in self.fields]
        targets = [model._meta.fields[name] for name in self.fields]
        for target, default in _insert_defaults(model, self.fields):
            columns.append(Value(default, converter=target.db_value))
            targets.append(target)
        # In the staging table's (the key's) order: the target's index grows in order.
        query = staging.select(*columns).where(staging.line > 0)
        insert = model.insert_from(query, targets)
        if updates:
            changed = _any_differs((target, value) for target, value in updates.items())
            insert = insert.on_conflict(conflict_target=key, update=updates, where=changed)
        else:
            insert = insert.on_conflict_ignore()
        written = insert.as_rowcount().execute()
        counts.new = staged - existing
        counts.changed = written - counts.new
        counts.unchanged = existing - counts.changed

    def updated_value(self, target):
        return getattr(EXCLUDED, target.column_name)


def _staging_field(target):
    """A nullable column of the staging table shaped like the model's field."""
    if isinstance(target, ForeignKeyField):
        return IntegerField(null=True, column_name=target.column_name)
    if isinstance(target, DecimalField):
        return DecimalField(max_digits=target.max_digits, decimal_places=target.decimal_places,
                            null=True)
    if isinstance(target, models.JSONField):
        return TextField(null=True)
    for kind in (BigIntegerField, IntegerField, FloatField, BooleanField, DateTimeField,
                 DateField, TextField, CharField):
        if isinstance(target, kind):
            return kind(null=True)
    raise TypeError(f"no staging column for {target!r}")


def _insert_defaults(model, filled):
    """(field, default) for the NOT NULL fields a new row needs and no line gives
    (Peewee's defaults live in Python, not in the schema)."""
    for target in model._meta.sorted_fields:
        if target.primary_key or target.name in filled or target.null or target.default is None:
            continue
        default = target.default() if callable(target.default) else target.default
        yield target, default


def is_sqlite():
    return isinstance(models.db.obj, SqliteDatabase)


def _differs(left, right):
    return Expression(left, "IS NOT" if is_sqlite() else "IS DISTINCT FROM", right)


def _any_differs(pairs):
    condition = None
    for target, value in pairs:
        differs = _differs(target, value)
        condition = differs if condition is None else (condition | differs)
    return condition


def all_equal(pairs):
    condition = None
    for left, right in pairs:
        equal = left == right
        condition = equal if condition is None else (condition & equal)
    return condition


class CustomersKind(Kind):
    name = "customers"
    model = Customer
    description = "customers (anagrafica)"
    key_label = "code"
    columns = {
        "code": Column(parse_customer_code),
        "name": Column(text_of()),
        "tax_code": Column(parse_tax_code),
        "address": Column(text_of(), required=False, blank=""),
        "phone": Column(text_of(40), required=False, blank=""),
        "fax": Column(text_of(40), required=False, blank=""),
        "email": Column(parse_email, required=False, blank=""),
    }
    fields = ("code", "name", "tax_code", "is_company", "address", "phone", "fax", "email")
    key = ("code",)
    updates = {"tax_code": ("tax_code", "is_company")}

    def build(self, values, problems):
        tax_code = values["tax_code"]
        # A partita IVA (11 digits) is a company's; a codice fiscale a person's.
        is_company = bool(tax_code) and tax_code.isdigit()
        return (values["code"], values["name"], tax_code, is_company, values["address"],
                values["phone"], values["fax"], values["email"])


class SupplyPointsKind(Kind):
    name = "supply_points"
    model = SupplyPoint
    description = "supply points (punti di fornitura)"
    key_label = "code"
    columns = {
        "code": Column(parse_point_code),
        "customer_code": Column(parse_customer_code),
        "commodity": Column(choice_of(SupplyPoint.GAS, SupplyPoint.ELECTRICITY)),
        "pdr_pod": Column(lambda text: text.replace(" ", "").upper()),
        "address": Column(text_of()),
        "meter_serial": Column(text_of(64), required=False, blank=""),
        "has_corrector": Column(parse_bool, required=False, blank=False),
        "meter_digits": Column(integer_between(3, 12), required=False, blank=5),
        "expected_annual_consumption": Column(parse_quantity, required=False, blank=None),
        "holder_since": Column(parse_date, required=False, blank=None),
    }
    fields = ("code", "customer", "commodity", "pdr_pod", "address", "meter_serial",
              "has_corrector", "meter_digits", "expected_annual_consumption",
              "technical_data", "contract_data")
    key = ("code",)
    updates = {"customer_code": ("customer",)}
    text_value = staticmethod(text_of())
    extra_hint = (" (after tech_ or contract_ only lower-case letters, digits and '_', at "
                  "most 60)")

    def accepts_extra(self, column):
        return bool(_EXTRA_COLUMN.match(column))

    def expected_columns(self):
        return super().expected_columns() + ";tech_*;contract_*"

    def set_header(self, names):
        super().set_header(names)
        self.extras = [(name, self.index[name]) for name in self.header if name not in self.columns]

    def update_fields(self):
        names = super().update_fields()
        # Without any tech_/contract_ column the stored data stay as they are.
        for prefix, name in (("tech_", "technical_data"), ("contract_", "contract_data")):
            if any(column.startswith(prefix) for column, _ in self.extras):
                names.append(name)
        return names

    def staging_fields(self):
        return super().staging_fields() + [("holder_since", DateField(null=True))]

    def start(self):
        self.load_customers()
        self.today = models.rome_now().date()
        # The open holding of every point: (customer id, start day).
        self.holders = {code: (customer_id, start) for code, customer_id, start in
                        SupplyPoint.select(SupplyPoint.code, Holding.customer, Holding.start_date)
                        .join(Holding, on=(Holding.supply_point == SupplyPoint.id))
                        .where(Holding.end_date.is_null())
                        .tuples().iterator()}

    def build(self, values, problems):
        customer_id = None
        if values["customer_code"] is not None:
            customer_id = self.customers.get(values["customer_code"])
            if customer_id is None:
                problems.append(("customer_code", f"no customer {values['customer_code']} "
                                                  "(import customers first)"))
        since = values["holder_since"]
        if since is not None and since > self.today:
            problems.append(("holder_since", f"{since:%d/%m/%Y} is in the future: import the "
                                             "change of holder once it has happened"))
        current = self.holders.get(values["code"])
        if current is not None and customer_id is not None and current[0] != customer_id:
            # A change of holder: the new holding starts on holder_since, else today.
            since = since or self.today
            if current[1] is not None and since <= current[1]:
                problems.append(("holder_since", f"{since:%d/%m/%Y} is not after "
                                                 f"{current[1]:%d/%m/%Y}, when the current "
                                                 "holder's holding started"))
        commodity, pdr_pod = values["commodity"], values["pdr_pod"]
        if commodity == SupplyPoint.GAS and pdr_pod and not _PDR.match(pdr_pod):
            problems.append(("pdr_pod", f"'{shown(pdr_pod)}' is not a PDR: expected 14 digits"))
        if commodity == SupplyPoint.ELECTRICITY and pdr_pod and not _POD.match(pdr_pod):
            problems.append(("pdr_pod", f"'{shown(pdr_pod)}' is not a POD: expected IT, 3 "
                                        "digits, E, 8 digits (IT001E12345678)"))
        if commodity == SupplyPoint.ELECTRICITY and values["has_corrector"]:
            problems.append(("has_corrector", "only a gas meter has a volume corrector"))
        json_field = SupplyPoint.technical_data
        return (values["code"], customer_id, commodity, pdr_pod, values["address"],
                values["meter_serial"], values["has_corrector"], values["meter_digits"],
                values["expected_annual_consumption"], json_field.db_value(values["tech"]),
                json_field.db_value(values["contract"]), since)

    def merge(self, staging, counts):
        """Upsert the points, then their holdings: a new point's first holding, and for
        a point under another customer code the change of holder."""
        lines = list(staging
                     .select(staging.code, staging.customer, staging.holder_since)
                     .where(staging.line > 0)
                     .tuples().iterator())
        super().merge(staging, counts)
        ids = dict(SupplyPoint.select(SupplyPoint.code, SupplyPoint.id).tuples().iterator())
        first = [(ids[code], customer_id, since) for code, customer_id, since in lines
                 if code not in self.holders]
        for batch in chunked(first, 500):
            Holding.insert_many(batch, fields=[Holding.supply_point, Holding.customer,
                                               Holding.start_date]).execute()
        for code, customer_id, since in lines:
            current = self.holders.get(code)
            if current is not None and current[0] != customer_id:
                holdings.hand_over(ids[code], customer_id, since or self.today)

    def read(self, row):
        """The contract's columns, plus the tech_*/contract_* values as two dicts
        (an empty value leaves that datum out)."""
        values, problems = super().read(row)
        values["tech"], values["contract"] = {}, {}
        for name, position in self.extras:
            raw = spreadsheet_text(row[position].strip())
            if not raw:
                continue
            try:
                value = self.text_value(raw)
            except BadValue as error:
                problems.append((name, str(error)))
                continue
            values["tech" if name.startswith("tech_") else "contract"][name] = value
        return values, problems


class InvoicesKind(Kind):
    name = "invoices"
    model = Invoice
    description = "invoices (fatture) and their PDFs"
    key_label = "number"
    columns = {
        "number": Column(parse_invoice_number),
        "supply_point_code": Column(parse_point_code),
        "date": Column(parse_date),
        "period_start": Column(parse_date),
        "period_end": Column(parse_date),
        "amount": Column(parse_amount),
        "due_date": Column(parse_date),
        "paid": Column(parse_bool, required=False, blank=False),
        "pdf": Column(str, required=False, blank=None),
        "customer_code": Column(parse_customer_code, required=False, blank=None),
        "pagopa_notice": Column(parse_pagopa_notice, required=False, blank=None),
        "pagopa_creditor": Column(parse_creditor_code, required=False, blank=None),
        "payment_link": Column(parse_payment_link, required=False, blank=None),
        "direct_debit_iban": Column(parse_debited_iban, required=False, blank=None),
    }
    fields = ("number", "supply_point", "date", "period_start", "period_end", "amount",
              "due_date", "paid", "pdf_path", "customer", "pagopa_notice", "pagopa_creditor",
              "payment_link", "direct_debit_iban")
    key = ("number",)
    updates = {"supply_point_code": ("supply_point",), "pdf": ("pdf_path",),
               "customer_code": ("customer",)}

    def start(self):
        self.load_points()
        self.load_customers()
        self.holdings = holdings.holdings_by_point()

    def holder(self, values, point, problems):
        """The invoice's holder: its customer_code, which must have held the point,
        else whoever held the point when the billed period started."""
        point_holdings = self.holdings.get(point[0], [])
        code = values["customer_code"]
        if code is None:
            return holdings.holder_on(point_holdings, values["period_start"]
                                      or values["date"] or models.rome_now().date())
        customer_id = self.customers.get(code)
        if customer_id is None:
            problems.append(("customer_code", f"no customer {code} (import customers first)"))
        elif all(holding.customer_id != customer_id for holding in point_holdings):
            problems.append(("customer_code", f"customer {code} never held supply point "
                                              f"{values['supply_point_code']}"))
        return customer_id

    def build(self, values, problems):
        point = self.supply_point(values, problems)
        customer_id = point and self.holder(values, point, problems)
        self.check_period(values, problems)
        pdf_path = None
        if values["pdf"] is not None:
            try:
                source = self.files.source(values["pdf"], pdf=True)
            except BadValue as error:
                problems.append(("pdf", str(error)))
            else:
                if values["date"] and values["number"]:
                    pdf_path = (f"invoices/{values['date'].year}/"
                                f"{safe_file_name(values['number'])}.pdf")
                    if not problems:
                        self.files.stage(source, pdf_path)
        if bool(values["pagopa_notice"]) != bool(values["pagopa_creditor"]):
            problems.append(("pagopa_notice", "a pagoPA notice needs both pagopa_notice and "
                                              "pagopa_creditor"))
        return (values["number"], point and point[0], values["date"], values["period_start"],
                values["period_end"], values["amount"], values["due_date"], values["paid"],
                pdf_path, customer_id, values["pagopa_notice"], values["pagopa_creditor"],
                values["payment_link"], values["direct_debit_iban"])

    def updated_value(self, target):
        if target is Invoice.pdf_path:
            # An empty pdf keeps the PDF the invoice already has.
            return fn.COALESCE(EXCLUDED.pdf_path, Invoice.pdf_path)
        return super().updated_value(target)


class ConsumptionKind(Kind):
    name = "consumption"
    model = BilledConsumption
    description = "billed consumption (prelievi fatturati)"
    key_label = "supply point and period_start"
    UNITS = {SupplyPoint.GAS: "Smc", SupplyPoint.ELECTRICITY: "kWh"}
    columns = {
        "supply_point_code": Column(parse_point_code),
        "period_start": Column(parse_date),
        "period_end": Column(parse_date),
        "energy_f1": Column(parse_quantity, required=False, blank=None),
        "energy_f2": Column(parse_quantity, required=False, blank=None),
        "energy_f3": Column(parse_quantity, required=False, blank=None),
        "energy_total": Column(parse_quantity),
        "max_power": Column(parse_quantity, required=False, blank=None),
        "unit": Column(choice_of("kWh", "Smc")),
        "reading_kind": Column(choice_of(*BilledConsumption.KINDS), required=False, blank=None),
    }
    fields = ("supply_point", "period_start", "period_end", "energy_f1", "energy_f2",
              "energy_f3", "energy_total", "max_power", "unit", "reading_kind")
    key = ("supply_point", "period_start")
    updates = {"supply_point_code": ()}

    def start(self):
        self.load_points()

    def build(self, values, problems):
        point = self.supply_point(values, problems)
        self.check_period(values, problems)
        if point and values["unit"] and values["unit"] != self.UNITS[point[1]]:
            problems.append(("unit", f"{values['supply_point_code']} is a {point[1]} point: "
                                     f"the unit is {self.UNITS[point[1]]}"))
        if point and point[1] == SupplyPoint.GAS:
            for band in ("energy_f1", "energy_f2", "energy_f3"):
                if values[band] is not None:
                    problems.append((band, "time bands are for electricity points only"))
        return (point and point[0], values["period_start"], values["period_end"],
                values["energy_f1"], values["energy_f2"], values["energy_f3"],
                values["energy_total"], values["max_power"], values["unit"],
                values["reading_kind"])


class MeasurementsKind(Kind):
    name = "measurements"
    model = Measurement
    description = "electricity measurements (misure elettriche)"
    key_label = "supply point and timestamp"
    columns = {
        "supply_point_code": Column(parse_point_code),
        "timestamp": Column(str),
        "active_energy_kwh": Column(parse_quantity),
        "power_kw": Column(parse_quantity, required=False, blank=None),
    }
    fields = ("supply_point", "timestamp", "active_energy_kwh", "power_kw")
    key = ("supply_point", "timestamp")
    updates = {"supply_point_code": (), "timestamp": ()}
    merged_in_batches = True

    def start(self):
        self.load_points()
        self.power_points = {code: point[0] for code, point in self.points.items()
                             if point[1] == SupplyPoint.ELECTRICITY}
        self.clock = LocalTimeParser()
        index = self.index
        self._columns = (index["supply_point_code"], index["timestamp"],
                         index["active_energy_kwh"], index.get("power_kw"))

    def convert(self, row):
        # The hot loop of the biggest files: one tight path for a good line, the
        # generic checks (every problem of the line) only for a bad one.
        code_at, timestamp_at, energy_at, power_at = self._columns
        try:
            point_id = self.power_points[row[code_at].strip()]
            energy = row[energy_at].strip()
            if not _QUANTITY.match(energy):
                raise BadValue
            power = None
            if power_at is not None:
                power = row[power_at].strip() or None
                if power is not None:
                    if not _QUANTITY.match(power):
                        raise BadValue
                    power = float(power.replace(",", "."))
            return (point_id, self.clock.epoch(row[timestamp_at].strip(), point_id),
                    float(energy.replace(",", ".")), power)
        except (KeyError, BadValue):
            pass
        return super().convert(row)

    def build(self, values, problems):
        point = self.supply_point(values, problems, commodity=SupplyPoint.ELECTRICITY)
        epoch = None
        if values["timestamp"] is not None:
            try:
                epoch = self.clock.epoch(values["timestamp"], point and point[0])
            except BadValue as error:
                problems.append(("timestamp", str(error)))
        return (point and point[0], epoch, values["active_energy_kwh"], values["power_kw"])


class DocumentsKind(Kind):
    name = "documents"
    model = Document
    description = "documents for one customer (I miei documenti)"
    key_label = "customer and file"
    columns = {
        "customer_code": Column(parse_customer_code),
        "title": Column(text_of()),
        "date": Column(parse_date),
        "file": Column(str),
    }
    fields = ("customer", "title", "date", "file_path")
    key = ("customer", "file_path")
    updates = {"customer_code": (), "file": ()}

    def start(self):
        self.load_customers()

    def build(self, values, problems):
        customer_id = None
        code = values["customer_code"]
        if code is not None:
            customer_id = self.customers.get(code)
            if customer_id is None:
                problems.append(("customer_code", f"no customer {code} (import customers first)"))
        file_path = None
        if values["file"] is not None:
            try:
                source = self.files.source(values["file"])
            except BadValue as error:
                problems.append(("file", str(error)))
            else:
                if code is not None:
                    # One folder per customer; the file name identifies the document.
                    file_path = f"documents/{code}/{safe_file_name(source.name)}"
                    if not problems:
                        self.files.stage(source, file_path)
        return (customer_id, values["title"], values["date"], file_path)


class ReadingWindowsKind(Kind):
    name = "reading_windows"
    model = ReadingWindow
    description = "self-reading windows (periodi di autolettura)"
    key_label = "supply point and start"
    ALL = "*"
    # Staged for `*`: the unique index of the staging table would not see two NULLs
    # as the same key.
    EVERY_POINT = 0
    columns = {
        "supply_point_code": Column(lambda text: text if text == "*" else parse_point_code(text)),
        "start_date": Column(parse_date),
        "start_time": Column(parse_time),
        "end_date": Column(parse_date),
        "end_time": Column(parse_time),
    }
    fields = ("supply_point", "start_at", "end_at")
    key = ("supply_point", "start_at")

    def start(self):
        self.load_points()

    def build(self, values, problems):
        point_id = self.EVERY_POINT
        if values["supply_point_code"] not in (None, self.ALL):
            point = self.supply_point(values, problems, commodity=SupplyPoint.GAS)
            point_id = point and point[0]
        start_at = end_at = None
        if values["start_date"] and values["start_time"]:
            start_at = datetime.datetime.combine(values["start_date"], values["start_time"])
        if values["end_date"] and values["end_time"]:
            end_at = datetime.datetime.combine(values["end_date"], values["end_time"])
        if start_at and end_at and end_at <= start_at:
            problems.append(("end_date", f"the window ends ({end_at:%d/%m/%Y %H:%M}) before "
                                         f"it starts ({start_at:%d/%m/%Y %H:%M})"))
        return (point_id, start_at, end_at)

    def merge(self, staging, counts):
        # No unique index can hold "NULL = every gas point", so windows are matched
        # one by one (a file has a handful of them).
        for point_id, start_at, end_at in (staging
                                           .select(staging.supply_point, staging.start_at,
                                                   staging.end_at)
                                           .order_by(staging.line)
                                           .tuples()
                                           .iterator()):
            if point_id == self.EVERY_POINT:
                point_id = None
            same_point = (ReadingWindow.supply_point.is_null() if point_id is None
                          else ReadingWindow.supply_point == point_id)
            window = (ReadingWindow
                      .select()
                      .where(same_point & (ReadingWindow.start_at == start_at))
                      .first())
            if window is None:
                ReadingWindow.create(supply_point=point_id, start_at=start_at, end_at=end_at)
                counts.new += 1
            elif window.end_at != end_at:
                window.end_at = end_at
                window.save(only=[ReadingWindow.end_at])
                counts.changed += 1
            else:
                counts.unchanged += 1


class ReadingOutcomesKind(Kind):
    name = "reading_outcomes"
    model = SelfReading
    description = "outcomes of the acquired self-readings (esiti delle autoletture)"
    key_label = "supply point and reading_date"
    VALIDATED, REJECTED = "validata", "scartata"
    columns = {
        "supply_point_code": Column(parse_point_code),
        "reading_date": Column(parse_date),
        "outcome": Column(choice_of(VALIDATED, REJECTED)),
        "reason": Column(text_of(), required=False, blank=""),
    }
    fields = ("self_reading", "outcome", "outcome_reason")
    key = ("self_reading",)

    def staging_fields(self):
        return [("self_reading", IntegerField(null=True)), ("outcome", CharField(null=True)),
                ("outcome_reason", CharField(null=True))]

    def start(self):
        self.load_points()

    def build(self, values, problems):
        point = self.supply_point(values, problems, commodity=SupplyPoint.GAS)
        reading_id = None
        if point and values["reading_date"]:
            reading_id = (SelfReading
                          .select(SelfReading.id)
                          .where((SelfReading.supply_point == point[0])
                                 & (SelfReading.reading_date == values["reading_date"]))
                          .scalar())
            if reading_id is None:
                problems.append(("reading_date", f"no self-reading of "
                                                 f"{values['supply_point_code']} on "
                                                 f"{values['reading_date']:%d/%m/%Y}"))
        if values["outcome"] == self.REJECTED and not values["reason"]:
            problems.append(("reason", "a rejected reading ('scartata') needs a reason"))
        return (reading_id, values["outcome"], values["reason"])

    def merge(self, staging, counts):
        for reading_id, outcome, reason in (staging
                                            .select(staging.self_reading, staging.outcome,
                                                    staging.outcome_reason)
                                            .order_by(staging.line)
                                            .tuples()
                                            .iterator()):
            changed = (SelfReading
                       .update(outcome=outcome, outcome_reason=reason)
                       .where((SelfReading.id == reading_id)
                              & (_differs(SelfReading.outcome, outcome)
                                 | _differs(SelfReading.outcome_reason, reason)))
                       .execute())
            if changed:
                counts.changed += 1
            else:
                counts.unchanged += 1


class MandateOutcomesKind(Kind):
    name = "mandate_outcomes"
    model = DirectDebitMandate
    description = "outcomes of the direct-debit mandate requests (esiti delle domiciliazioni)"
    key_label = "reference"
    ACTIVE, REJECTED, REVOKED = "attivo", "rifiutato", "revocato"
    columns = {
        "reference": Column(text_of(35)),
        "outcome": Column(choice_of(ACTIVE, REJECTED, REVOKED)),
        "reason": Column(text_of(), required=False, blank=""),
    }
    fields = ("reference", "outcome", "outcome_reason")
    key = ("reference",)

    def staging_fields(self):
        return [("reference", CharField(null=True)), ("outcome", CharField(null=True)),
                ("outcome_reason", CharField(null=True))]

    def start(self):
        self.known = set(DirectDebitMandate.select(DirectDebitMandate.reference)
                         .tuples().iterator())

    def build(self, values, problems):
        if values["reference"] and (values["reference"],) not in self.known:
            problems.append(("reference", f"no mandate {values['reference']}"))
        if values["outcome"] == self.REJECTED and not values["reason"]:
            problems.append(("reason", "a rejected request ('rifiutato') needs a reason"))
        return (values["reference"], values["outcome"], values["reason"])

    def merge(self, staging, counts):
        mandate = DirectDebitMandate
        for reference, outcome, reason in (staging
                                           .select(staging.reference, staging.outcome,
                                                   staging.outcome_reason)
                                           .order_by(staging.line).tuples().iterator()):
            row = mandate.get(mandate.reference == reference)
            if outcome == self.ACTIVE:
                # A revocation the bank refused leaves the mandate active, as does a
                # repeat of the same outcome.
                status = mandate.ACTIVE
            elif outcome == self.REVOKED:
                status = mandate.REVOKED
            elif row.status == mandate.REVOKING:
                status = mandate.ACTIVE  # the revocation was refused: still active
            else:
                status = mandate.REJECTED
            if (row.status, row.outcome_reason) == (status, reason):
                counts.unchanged += 1
                continue
            row.status, row.outcome_reason = status, reason
            row.save(only=[mandate.status, mandate.outcome_reason])
            if status == mandate.ACTIVE:
                # The new mandate of a point replaces the one it was active on before.
                (mandate.update(status=mandate.REPLACED)
                 .where((mandate.supply_point == row.supply_point_id)
                        & (mandate.customer == row.customer_id)
                        & (mandate.id != row.id) & (mandate.status == mandate.ACTIVE))
                 .execute())
            counts.changed += 1


# Dependency order: every kind refers only to kinds before it.
KINDS = {kind.name: kind for kind in (CustomersKind, SupplyPointsKind, InvoicesKind,
                                       ConsumptionKind, MeasurementsKind, DocumentsKind,
                                       ReadingWindowsKind, ReadingOutcomesKind,
                                       MandateOutcomesKind)}
