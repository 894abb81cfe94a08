"""The import of one file of the billing system: all of it, or nothing.

How a file is imported, whatever its size:
1. Up front, without touching the database: the whole file must decode as UTF-8 and
   the header must be `;`-separated with the kind's columns. Otherwise the file is
   refused with a message that says what was expected.
2. One streaming pass checks every line and copies the good ones, in batches, into a
   temporary staging table of this connection (SQLite keeps it in its temp file, not
   in the portal's database, so the portal's writers are never blocked meanwhile).
   Bad lines are collected (line, column, reason) and the pass goes on to the end.
3. The staging table's primary key is the natural key: a line repeating the key of
   an earlier line is a bad line too ("same ... as line N").
4. Only a file without bad lines is merged: one transaction, one INSERT ... SELECT
   ... ON CONFLICT DO UPDATE per file (reading windows and outcomes, a handful of
   rows, row by row), which updates a row only when something differs, so importing
   the same file twice changes nothing. Files named by the
   lines (invoice PDFs, documents) are published inside the same transaction.
Memory stays flat: rows travel in batches, only the reference codes (customers,
supply points) are held in memory, and the report keeps at most MAX_REPORTED errors.
"""
import codecs
import csv
import datetime
import decimal
import io
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from peewee import (
    EXCLUDED,
    JOIN,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DatabaseError,
    DateField,
    DateTimeField,
    DecimalField,
    Expression,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
    Value,
    fn,
)

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
from portal.exchange.files import FileStore, safe_file_name
from portal.exchange.values import (
    REQUIRED,
    SEPARATOR,
    BadValue,
    Column,
    FileRefused,
    LineError,
    LocalTimeParser,
    _shown,
    choice_of,
    integer_between,
    local_timestamp,
    parse_amount,
    parse_bool,
    parse_customer_code,
    parse_date,
    parse_email,
    parse_invoice_number,
    parse_point_code,
    parse_quantity,
    parse_tax_code,
    parse_time,
    text_of,
)

MAX_REPORTED = 1000      # errors listed in a report; the rest are only counted
BATCH_ROWS = 2000        # rows staged per statement
SCAN_CHUNK = 1 << 18     # bytes read at a time by the encoding check

_QUANTITY = re.compile(r"\d+(?:[.,]\d+)?\Z", re.ASCII)
_PDR = re.compile(r"\d{14}\Z", re.ASCII)
_POD = re.compile(r"IT\d{3}E\d{8}\Z", re.ASCII)
_EXTRA_COLUMN = re.compile(r"(tech|contract)_[a-z0-9_]{1,60}\Z", re.ASCII)


# ---------------------------------------------------------------------------
# Kinds of file
# ---------------------------------------------------------------------------

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
            raw = row[position].strip()
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
                    .join(model, on=_all_equal(zip(self.key_of(staging), key)))
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


def _is_sqlite():
    return isinstance(models.db.obj, SqliteDatabase)


def _differs(left, right):
    return Expression(left, "IS NOT" if _is_sqlite() else "IS DISTINCT FROM", right)


def _any_differs(pairs):
    condition = None
    for target, value in pairs:
        differs = _differs(target, value)
        condition = differs if condition is None else (condition | differs)
    return condition


def _all_equal(pairs):
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

    def start(self):
        self.load_customers()

    def build(self, values, problems):
        customer_id = None
        if values["customer_code"] is not None:
            customer_id = self.customers.get(values["customer_code"])
            if customer_id is None:
                problems.append(("customer_code", f"no customer {values['customer_code']} "
                                                  "(import customers first)"))
        commodity, pdr_pod = values["commodity"], values["pdr_pod"]
        if commodity == SupplyPoint.GAS and pdr_pod and not _PDR.match(pdr_pod):
            problems.append(("pdr_pod", f"'{_shown(pdr_pod)}' is not a PDR: expected 14 digits"))
        if commodity == SupplyPoint.ELECTRICITY and pdr_pod and not _POD.match(pdr_pod):
            problems.append(("pdr_pod", f"'{_shown(pdr_pod)}' is not a POD: expected IT, 3 "
                                        "digits, E, 8 digits (IT001E12345678)"))
        if commodity == SupplyPoint.ELECTRICITY and values["has_corrector"]:
            problems.append(("has_corrector", "only a gas meter has a volume corrector"))
        json_field = SupplyPoint.technical_data
        return (values["code"], customer_id, commodity, pdr_pod, values["address"],
                values["meter_serial"], values["has_corrector"], values["meter_digits"],
                values["expected_annual_consumption"], json_field.db_value(values["tech"]),
                json_field.db_value(values["contract"]))

    def read(self, row):
        """The contract's columns, plus the tech_*/contract_* values as two dicts
        (an empty value leaves that datum out)."""
        values, problems = super().read(row)
        values["tech"], values["contract"] = {}, {}
        for name, position in self.extras:
            raw = row[position].strip()
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
    }
    fields = ("number", "supply_point", "date", "period_start", "period_end", "amount",
              "due_date", "paid", "pdf_path")
    key = ("number",)
    updates = {"supply_point_code": ("supply_point",), "pdf": ("pdf_path",)}

    def start(self):
        self.load_points()

    def build(self, values, problems):
        point = self.supply_point(values, problems)
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
        return (values["number"], point and point[0], values["date"], values["period_start"],
                values["period_end"], values["amount"], values["due_date"], values["paid"],
                pdf_path)

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
    }
    fields = ("supply_point", "period_start", "period_end", "energy_f1", "energy_f2",
              "energy_f3", "energy_total", "max_power", "unit")
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
                values["energy_total"], values["max_power"], values["unit"])


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


# Dependency order: every kind refers only to kinds before it.
KINDS = {kind.name: kind for kind in (CustomersKind, SupplyPointsKind, InvoicesKind,
                                       ConsumptionKind, MeasurementsKind, DocumentsKind,
                                       ReadingWindowsKind, ReadingOutcomesKind)}


# ---------------------------------------------------------------------------
# The import of one file
# ---------------------------------------------------------------------------

@dataclass
class Counts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class Report:
    """What happened to one file: the counts, or every bad line (the first
    MAX_REPORTED problems listed, all of them counted)."""
    kind: str
    path: Path
    lines: int = 0
    bad_lines: int = 0
    problem_count: int = 0
    problems: list = field(default_factory=list)
    refused: bool = False
    counts: Counts = field(default_factory=Counts)
    files_copied: int = 0
    seconds: float = 0.0

    @property
    def ok(self):
        return self.problem_count == 0

    def add(self, line, problems):
        self.bad_lines += 1
        for column, reason in problems:
            self.problem_count += 1
            if len(self.problems) < MAX_REPORTED:
                self.problems.append((line, column, reason))

    def refuse(self, refused):
        self.refused = True
        self.add(refused.line, [(refused.column, refused.reason)])

    @property
    def rate(self):
        return self.lines / self.seconds if self.seconds else 0.0

    def summary(self):
        name = self.path.name
        if self.refused:
            return f"{name} ({self.kind}): REFUSED, nothing imported: {self.problems[0][2]}"
        if not self.ok:
            return (f"{name} ({self.kind}): REJECTED, nothing imported: {self.bad_lines} bad "
                    f"line(s) out of {self.lines}")
        counts = self.counts
        text = (f"{name} ({self.kind}): imported {self.lines} line(s) in {self.seconds:.1f} s "
                f"({self.rate:,.0f} lines/s): {counts.new} new, {counts.changed} changed, "
                f"{counts.unchanged} unchanged")
        if self.files_copied:
            text += f"; {self.files_copied} file(s) copied"
        return text

    def text(self):
        """The report: summary, then one line per problem."""
        lines = [self.summary()]
        if not self.ok:
            if not self.refused:
                lines.append(f"{self.problem_count} problem(s) on {self.bad_lines} line(s); "
                             "fix them and send the whole file again.")
            lines.append("line;column;reason")
            # Repeated keys are found batch by batch, after the lines checked meanwhile.
            in_order = sorted(self.problems,
                              key=lambda problem: problem[0] if isinstance(problem[0], int) else 0)
            lines.extend(f"{line};{column};{reason}" for line, column, reason in in_order)
            if self.problem_count > len(self.problems):
                lines.append(f"... and {self.problem_count - len(self.problems)} more problem(s) "
                             "not listed")
        return "\n".join(lines) + "\n"


def check_encoding(path):
    """Refuse a file that is not entirely UTF-8 text, saying where and what was
    expected. Reading it once costs little next to the import itself."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRefused("the file is UTF-16: it must be UTF-8 (save it as \"CSV UTF-8\")")
        if not head:
            raise FileRefused("the file is empty: expected a header line and the data lines")
        handle.seek(0)
        while True:
            chunk = handle.read(SCAN_CHUNK)
            if b"\x00" in chunk:
                line += chunk[:chunk.index(b"\x00")].count(b"\n")
                raise FileRefused("the file contains NUL bytes: it is not UTF-8 text "
                                  "(UTF-16 or a binary file?); expected a UTF-8 CSV", line=line)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                line += error.object[:error.start].count(b"\n")
                byte = error.object[error.start]
                raise FileRefused(f"the file is not UTF-8: line {line} has the byte 0x{byte:02X} "
                                  "(Windows-1252 or Latin-1?); expected UTF-8 "
                                  "(save it as \"CSV UTF-8\")", line=line) from None
            if not chunk:
                return
            line += chunk.count(b"\n")


class _Progress:
    """A progress bar over the bytes read, on stderr; nothing when quiet."""

    def __init__(self, label, length, quiet):
        self.bar = None
        if not quiet:
            self.bar = click.progressbar(length=length, label=label, file=sys.stderr,
                                         show_pos=False, show_percent=True, show_eta=True)
            self.bar.__enter__()
        self.done = 0

    def to(self, position):
        if self.bar is not None and position > self.done:
            self.bar.update(position - self.done)
            self.done = position

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def import_file(kind_name, path, files_dir=None, quiet=True):
    """Import one file of the contract into the bound database; return its Report.
    files_dir: where the files named by the lines are (default: the file's folder)."""
    path = Path(path)
    started = time.monotonic()
    report = Report(kind_name, path)
    files = FileStore(files_dir or path.parent, current_app.config["FILES_DIR"])
    kind = KINDS[kind_name](files)
    try:
        check_encoding(path)
        with open(path, "rb") as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, delimiter=SEPARATOR)
            try:
                header = next(reader, None)
            except csv.Error as error:
                raise FileRefused(f"the header cannot be read: {error}") from None
            if not header or not any(name.strip() for name in header):
                raise FileRefused("the first line must be the header: expected "
                                  f"(';'-separated, any order): {kind.expected_columns()}")
            kind.set_header(header)
            kind.start()
            progress = _Progress(f"{path.name} ({kind_name})", os.path.getsize(path), quiet)
            try:
                _stage_and_merge(kind, reader, report, files, progress, binary)
            finally:
                progress.close()
    except FileRefused as refused:
        report.refuse(refused)
    except (DatabaseError, OSError) as error:
        # Rolled back with its transaction; a nightly run goes on with the next file.
        report.refuse(FileRefused(f"the import failed and nothing was kept: {error}", line="-"))
    finally:
        files.discard()
    report.seconds = time.monotonic() - started
    report.files_copied = files.copied if report.ok else 0
    models.audit("data_import", detail=report.summary())
    return report


def _staging_model(kind):
    """A temporary table for the good lines of one file; its unique index on the
    natural key is what finds the lines that repeat a key."""
    attributes = {"line": IntegerField()}
    attributes.update(kind.staging_fields())
    table_name = f"import_{kind.name}_{uuid.uuid4().hex[:8]}"
    # The key is the primary key of a WITHOUT ROWID table: one B-tree, filled in
    # the order of the file (usually the key's order), is the cheapest to write.
    attributes["Meta"] = type("Meta", (), {"database": models.db, "temporary": True,
                                           "table_name": table_name,
                                           "primary_key": CompositeKey(*kind.key),
                                           "without_rowid": _is_sqlite()})
    return type(f"Staging_{kind.name}", (Model,), attributes)


def _staging_transaction():
    """A transaction for the staging table only: on SQLite a DEFERRED one, so the
    portal's database is never locked for writing while a file is checked."""
    if _is_sqlite():
        return models.db.atomic(lock_type="DEFERRED")
    return models.db.atomic()


class _Stager:
    """Writes good lines to the staging table in batches; a line whose key is
    already staged is reported as a repeat of the line that has it."""

    def __init__(self, kind, staging, report):
        self.kind, self.staging, self.report = kind, staging, report
        names = [name for name, _ in kind.staging_fields()]
        columns = [staging.line] + [getattr(staging, name) for name in names]
        self.sql, _ = (staging
                       .insert_many([[None] * len(columns)], fields=columns)
                       .on_conflict_ignore()
                       .sql())
        # Positions of the key in a staged row (after the line number).
        self.key_positions = [1 + names.index(name) for name in kind.key]
        self.rows = []

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        with _staging_transaction():
            cursor = models.db.cursor()
            cursor.executemany(self.sql, self.rows)
            if cursor.rowcount != len(self.rows):
                self._report_repeats()
        self.rows.clear()

    def _report_repeats(self):
        staging, kind = self.staging, self.kind
        key = kind.key_of(staging)
        for row in self.rows:
            condition = _all_equal((column, row[position])
                                   for column, position in zip(key, self.key_positions))
            first = staging.select(staging.line).where(condition).scalar()
            if first is None:
                # Cannot happen for a line that passed its checks; never drop it silently.
                self.report.add(row[0], [("-", "could not be staged")])
            elif first != row[0]:
                self.report.add(row[0], [("-", f"same {kind.key_label} as line {first}: a "
                                               "key may appear only once in a file")])


def _stage_and_merge(kind, reader, report, files, progress, binary):
    staging = _staging_model(kind)
    staging.create_table(safe=False)
    try:
        stager = _Stager(kind, staging, report)
        width = len(kind.header)
        convert, add = kind.convert, stager.add
        last_line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                report.lines += 1
                report.add(last_line + 1, [("-", f"cannot be read as CSV: {error}")])
                last_line = reader.line_num
                continue
            line, last_line = last_line + 1, reader.line_num
            try:
                if len(row) != width:
                    raise LineError([("-", f"{len(row)} fields, the header has {width} (a ';' "
                                           "missing, or one inside a value without quotes?)")])
                values = convert(row)
            except LineError as error:
                if not any(value.strip() for value in row):
                    continue  # a blank line, or a spreadsheet's trailing ';;;'
                report.lines += 1
                files.copying = False
                report.add(line, error.problems)
                continue
            report.lines += 1
            # Staged even after a bad line: repeated keys are found in the whole file.
            add((line, *values))
            if line & 0x3FFF == 0:
                progress.to(binary.tell())
        stager.flush()
        progress.to(binary.tell())
        if report.ok:
            with models.db.atomic():
                kind.merge(staging, report.counts)
                files.publish()
    finally:
        staging.drop_table(safe=True)


# ---------------------------------------------------------------------------
# The drop folder
# ---------------------------------------------------------------------------

_FILE_NAME = re.compile(r"(" + "|".join(KINDS) + r")(?:[-_.][^/]*)?\.csv\Z", re.IGNORECASE)


def kind_of_file(name):
    """The kind a drop-folder file name announces (`invoices-2024-06.csv`), or None."""
    match = _FILE_NAME.match(name)
    return match.group(1).lower() if match else None


def _unique_destination(folder, name, stamp):
    destination = folder / name
    if not destination.exists() and not (folder / f"{name}.report.txt").exists():
        return destination
    stem, suffix = os.path.splitext(name)
    for attempt in range(1, 1000):
        candidate = folder / f"{stem}.{stamp}{'' if attempt == 1 else f'-{attempt}'}{suffix}"
        if not candidate.exists():
            return candidate
    raise click.ClickException(f"cannot find a free name for {name} in {folder}")


def import_folder(folder, quiet=True, echo=click.echo):
    """Import every recognised CSV of a drop folder in dependency order, moving each
    to done/ or failed/ with `<name>.report.txt` beside it. Returns the reports."""
    folder = Path(folder)
    done, failed = folder / "done", folder / "failed"
    done.mkdir(exist_ok=True)
    failed.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    candidates = sorted(entry for entry in folder.iterdir()
                        if entry.is_file() and entry.suffix.lower() == ".csv"
                        and not entry.name.startswith("."))
    order = list(KINDS)
    recognised = sorted((entry for entry in candidates if kind_of_file(entry.name)),
                        key=lambda entry: (order.index(kind_of_file(entry.name)), entry.name))
    unrecognised = [entry for entry in candidates if kind_of_file(entry.name) is None]
    reports = []
    for entry in recognised + unrecognised:
        kind = kind_of_file(entry.name)
        if kind:
            report = import_file(kind, entry, files_dir=folder, quiet=quiet)
        else:
            report = Report("unknown", entry)
            report.refuse(FileRefused(
                f"the file name does not say what it contains: it must start with one of "
                f"{', '.join(KINDS)} (e.g. invoices-2024-06.csv)", line="-"))
        reports.append(report)
        destination = _unique_destination(done if report.ok else failed, report.path.name, stamp)
        os.replace(report.path, destination)
        (destination.parent / f"{destination.name}.report.txt").write_text(
            f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} {report.path}\n{report.text()}",
            encoding="utf-8")
        echo(("ok      " if report.ok else "FAILED  ") + report.summary())
    return reports


# ---------------------------------------------------------------------------
# Export: the database as files of the contract
# ---------------------------------------------------------------------------

def _number_text(value):
    """A float as the contract writes it: shortest exact form, never an exponent."""
    if value is None:
        return ""
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = format(decimal.Decimal(text), "f")
    return text[:-2] if text.endswith(".0") else text


def _export_rows(kind, files_dir, out_dir):
    """(header, rows) of one kind; rows is an iterator (measurements are many)."""
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
        query = (SupplyPoint
                 .select(SupplyPoint, Customer.code)
                 .join(Customer)
                 .order_by(SupplyPoint.code))

        def points():
            for point in query.iterator():
                data = {**point.technical_data, **point.contract_data}
                yield ([point.code, point.customer.code, point.commodity, point.pdr_pod,
                        point.address, point.meter_serial, int(point.has_corrector),
                        point.meter_digits, _number_text(point.expected_annual_consumption)]
                       + [data.get(name, "") for name in extras])
        return header, points()
    if kind == "invoices":
        header = list(InvoicesKind.columns)
        query = (Invoice
                 .select(Invoice, SupplyPoint.code)
                 .join(SupplyPoint)
                 .order_by(Invoice.date, Invoice.number))

        def invoices():
            for invoice in query.iterator():
                yield [invoice.number, invoice.supply_point.code, invoice.date.isoformat(),
                       invoice.period_start.isoformat(), invoice.period_end.isoformat(),
                       f"{invoice.amount:.2f}", invoice.due_date.isoformat(), int(invoice.paid),
                       _export_file(invoice.pdf_path, files_dir, out_dir)]
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
                         _number_text(row.energy_total), _number_text(row.max_power), row.unit]
                        for row in query.iterator())
    if kind == "measurements":
        header = list(MeasurementsKind.columns)
        # Ordered by time within each point: the repeated autumn hour comes out in the
        # order the importer reads it back.
        query = (Measurement
                 .select(SupplyPoint.code, Measurement.timestamp, Measurement.active_energy_kwh,
                         Measurement.power_kw)
                 .join(SupplyPoint)
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
        count = 0
        partial = out_dir / f".{kind}.csv.part"
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=SEPARATOR, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)
                count += 1
        # Renamed only when complete: a drop folder never sees half a file.
        os.replace(partial, out_dir / f"{kind}.csv")
        written[kind] = count
    return written
