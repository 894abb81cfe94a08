"""Peewee models of the portal, the database binding and the schema migrations."""
import datetime
import errno
import functools
import json
import select
from zoneinfo import ZoneInfo

from flask_babel import gettext
from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    DateField,
    DateTimeField,
    DecimalField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    JOIN,
    Model,
    SqliteDatabase,
    SQL,
    TextField,
    chunked,
    fn,
)
from playhouse.db_url import connect, parse
from playhouse.pool import PooledSqliteDatabase

ROME = ZoneInfo("Europe/Rome")

# Bound in create_app (or by a CLI command / test): nothing touches a database at
# import time.
db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # Writers queue for up to 10 s instead of failing with "database is locked".
    "busy_timeout": 10000,
    # An acknowledged reading must survive a power cut, not only a crash.
    "synchronous": "FULL",
}
# Seconds a pooled database connection is reused before it is closed and opened afresh.
CONNECTION_LIFETIME = 600


def open_database(url):
    """Return a Peewee database for a DATABASE_URL (SQLite gets the portal's pragmas,
    postgresql:// and postgres:// the psycopg 3 driver)."""
    if url.startswith("sqlite"):
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy reads them.
        path = url.split("://", 1)[1][1:]
        # BEGIN IMMEDIATE for every transaction: a read-then-write never deadlocks
        # into SQLITE_BUSY halfway through. Requests open and close the database;
        # the pool keeps the connections (opening one costs its pragmas and a new
        # parse of the schema on first use) and rolls back anything left open.
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                                    check_same_thread=False, max_connections=None,
                                    stale_timeout=CONNECTION_LIFETIME)
    if url.startswith(("postgresql://", "postgres://")):
        # Peewee's psycopg 3 database (with server-side cursors for streaming), pooled
        # like SQLite's: a new connection costs a handshake and authentication. Outside
        # db.atomic() every statement commits on its own, so a failed one never leaves
        # the connection in an aborted transaction; one returned inside a transaction
        # is closed, not reused. Query-string arguments go to psycopg
        # (e.g. ?sslmode=require); a percent-encoded user or password is decoded.
        return _postgres_pool()(**parse(url, unquote_password=True, unquote_user=True),
                                max_connections=None, stale_timeout=CONNECTION_LIFETIME)
    return connect(url)


@functools.cache
def _postgres_pool():
    """Peewee's pool of psycopg 3 connections, checked out without a round trip (the
    class is made on first use: psycopg is only imported for a PostgreSQL URL)."""
    from playhouse.postgres_ext import PooledPsycopg3Database
    from psycopg.pq import TransactionStatus

    class PooledPostgresql(PooledPsycopg3Database):
        def _is_closed(self, conn):
            # Peewee sends "SELECT 1" on every checkout to find a connection the server
            # has ended: a round trip on every request, a tenth of a page's statements.
            # An idle connection gets nothing from the server unless it is being ended
            # (an administrator, a restart: the server writes why and hangs up), so a
            # socket with something to read is dropped, without asking. A connection
            # left in a transaction gets Peewee's own check (which rolls it back).
            if conn.closed or conn.pgconn.transaction_status != TransactionStatus.IDLE:
                return super()._is_closed(conn)
            waiting = select.poll()
            waiting.register(conn.fileno(), select.POLLIN)
            if waiting.poll(0):
                conn.close()
                return True
            return False

    return PooledPostgresql


# What a full disk looks like: the OS's error numbers, SQLite's message, PostgreSQL's
# SQLSTATE class 53 (insufficient resources: disk_full 53100, out of memory...).
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def is_disk_full(error):
    """True when an exception (or what caused it) says the disk or quota is full."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
            return True
        if "database or disk is full" in str(error):
            return True
        if str(getattr(error, "sqlstate", "") or "").startswith("53100"):
            return True
        error = error.__cause__ or error.__context__
    return False


class Prepared:
    """A query of fixed shape whose SQL text Peewee builds once per kind of database.

    Building the SQL of a small select costs Peewee about 200 µs, four times the rest
    of running it; the few queries every page makes (the user, the supply points)
    build it once. `build(*args)` returns the query; its parameters must be the
    arguments, in order, optionally followed by constants (a LIMIT)."""

    def __init__(self, build):
        self.build = build
        self._compiled = {}

    def _sql(self, args):
        key = type(db.obj)
        compiled = self._compiled.get(key)
        if compiled is None:
            # Distinct stand-ins show where each argument lands, even when two
            # arguments are equal or equal a constant.
            probes = [_probe(value, index) for index, value in enumerate(args)]
            query = self.build(*probes)
            sql, params = query.sql()
            if list(params[:len(args)]) != probes:
                raise ValueError(f"the parameters {params} of {sql!r} are not the "
                                 f"arguments {probes} in order")
            compiled = self._compiled[key] = (query.model, sql, tuple(params[len(args):]))
        return compiled

    def __call__(self, *args):
        """The model instances the query selects."""
        model, sql, constants = self._sql(args)
        return list(model.raw(sql, *args, *constants))

    def first(self, *args):
        rows = self(*args)
        return rows[0] if rows else None

    def tuples(self, *args):
        """The rows as tuples, each value converted by its field (dates, decimals)."""
        model, sql, constants = self._sql(args)
        return list(model.raw(sql, *args, *constants).tuples())

    def cursor(self, *args):
        """The DB-API cursor: values as the driver gives them, nothing converted."""
        _, sql, constants = self._sql(args)
        return db.execute_sql(sql, (*args, *constants))

    def node(self, *args):
        """The statement as a Peewee node, for `db.execute` and its options (a
        server-side cursor on PostgreSQL)."""
        _, sql, constants = self._sql(args)
        return SQL(sql, (*args, *constants))


def _probe(value, index):
    """A value of the same type as `value` that no query holds as a constant."""
    if isinstance(value, bool):
        raise TypeError("booleans make poor query arguments: use two queries")
    if isinstance(value, int):
        return 987_654_321_000 + index
    if isinstance(value, float):
        return 987_654_321_000.5 + index
    if isinstance(value, str):
        return f"\x00probe{index}"
    if isinstance(value, datetime.datetime):
        return datetime.datetime(1901, 1, 1, 0, 0, index)
    if isinstance(value, datetime.date):
        return datetime.date(1901, 1, 1 + index)
    raise TypeError(f"no stand-in for a {type(value).__name__} argument")


def id_of(value):
    """The id of a model instance; an id stays an id."""
    return getattr(value, "id", value)


def utcnow():
    """Naive UTC now: every stored timestamp is UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def rome_now():
    """Naive local time in Rome, the clock of reading windows and reading dates."""
    return datetime.datetime.now(ROME).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class JSONField(TextField):
    """A dict stored as JSON text (technical and contract data)."""

    def db_value(self, value):
        return json.dumps(value or {}, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return json.loads(value) if value else {}


class LoginThrottle:
    """Failed-login counting shared by customers and operators: after
    MAX_FAILED_LOGINS in a row the account is locked for LOCKOUT."""

    MAX_FAILED_LOGINS = 10
    LOCKOUT = datetime.timedelta(minutes=15)

    def is_locked(self, now):
        return bool(self.locked_until and self.locked_until > now)

    def record_failed_login(self):
        """Count one failure (a conditional update, safe under concurrency); True when
        this failure locked the account."""
        model = type(self)
        locked_until = (utcnow() + self.LOCKOUT
                        if self.failed_logins + 1 >= self.MAX_FAILED_LOGINS else None)
        (model
         .update(failed_logins=0 if locked_until else model.failed_logins + 1,
                 locked_until=locked_until)
         .where(model.id == self.id)
         .execute())
        return locked_until is not None


class Customer(LoginThrottle, BaseModel):
    code = CharField(max_length=6, unique=True)
    name = CharField()
    tax_code = CharField(max_length=16, index=True)
    is_company = BooleanField(default=False)
    address = CharField(default="")
    phone = CharField(default="")
    fax = CharField(default="")
    email = CharField(default="")
    password_hash = CharField(null=True)
    must_change_password = BooleanField(default=False)
    temp_password_hash = CharField(null=True)
    temp_password_expires_at = DateTimeField(null=True)
    registered_at = DateTimeField(null=True)
    last_login_at = DateTimeField(null=True)
    previous_login_at = DateTimeField(null=True)
    # Part of the Flask-Login id: bumping it ends every copy of every session.
    session_version = IntegerField(default=1)
    failed_logins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    # The language the customer chose with the switch ("it", "en"); None: not chosen,
    # the session's or the browser's applies.
    language = CharField(max_length=5, null=True)
    # Bolletta web: invoices by e-mail only, no paper copy; when the customer last
    # turned it on or off (None: never chose). The billing system reads both.
    paperless = BooleanField(default=False)
    paperless_changed_at = DateTimeField(null=True)

    # Flask-Login's user protocol (UserMixin would make the model unhashable).
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self):
        return f"c:{self.id}:{self.session_version}"

    @property
    def is_registered(self):
        return self.registered_at is not None

    def supply_points_in_order(self):
        return (SupplyPoint
                .select()
                .where(SupplyPoint.customer == self)
                .order_by(SupplyPoint.code))

    @classmethod
    def for_session(cls, ident, version):
        """The customer of a session id, if the session version still matches."""
        return _customer_for_session.first(ident, version)


class SupplyPoint(BaseModel):
    GAS = "gas"
    ELECTRICITY = "electricity"

    code = CharField(unique=True)
    customer = ForeignKeyField(Customer, backref="supply_points", index=True,
                               on_delete="CASCADE")
    commodity = CharField(max_length=12)
    pdr_pod = CharField(max_length=16)
    address = CharField()
    meter_serial = CharField(default="")
    has_corrector = BooleanField(default=False)
    meter_digits = IntegerField(default=5)
    expected_annual_consumption = FloatField(null=True)
    technical_data = JSONField(default=dict)
    contract_data = JSONField(default=dict)

    @property
    def is_gas(self):
        return self.commodity == self.GAS

    @property
    def is_electricity(self):
        return self.commodity == self.ELECTRICITY

    # Set on the points of SupplyPoint.of_customer: the days that customer held the
    # point, from held_from (None: since its first data) to held_until, exclusive
    # (None: held today).
    held_from = None
    held_until = None

    @property
    def is_ceased(self):
        """True on a point of SupplyPoint.of_customer that customer no longer holds."""
        return self.held_until is not None

    @property
    def label(self):
        """The dropdown label of the seed: `PR002874 (Pdr: ...); ADDRESS`; a point
        passed on to another holder says so right after its code, where a narrow
        dropdown still shows it: `PR002874 - cessato dal 01/03/2025 (Pdr: ...)`."""
        kind = "Pdr" if self.is_gas else "Pod"
        ceased = (" - " + gettext("cessato dal %(day)s", day=self.held_until.strftime("%d/%m/%Y"))
                  if self.is_ceased else "")
        return f"{self.code}{ceased} ({kind}: {self.pdr_pod}); {self.address}"

    @property
    def picker_label(self):
        """The supply-point picker's option, what people recognise first, as a narrow
        phone cuts the end: `VIA DEI POGGI 5 · Gas PR002874 · 57014 COLLESALVETTI (LI)
        · Pdr 03340009749021`; a point passed on says so right after the street."""
        street, _, town = self.address.partition(" - ")
        ceased = (" (" + gettext("cessato dal %(day)s", day=self.held_until.strftime("%d/%m/%Y"))
                  + ")" if self.is_ceased else "")
        kind = gettext("Gas") if self.is_gas else gettext("Luce")
        parts = [f"{street}{ceased}", f"{kind} {self.code}", town,
                 f"{'Pdr' if self.is_gas else 'Pod'} {self.pdr_pod}"]
        return " · ".join(part for part in parts if part)

    def save(self, *args, **kwargs):
        """A new point starts its first holding (since its first data)."""
        created = self._pk is None
        result = super().save(*args, **kwargs)
        if created:
            Holding.create(supply_point=self, customer=self.customer_id)
        return result

    @classmethod
    def of_customer(cls, customer_id):
        """The points the customer holds or held, by code (every page shows them),
        each with the days of the customer's latest holding (held_from, held_until)."""
        points = {}
        for point in _supply_points_of_customer(customer_id):
            point.held_from = _as_date(point.held_from)
            point.held_until = _as_date(point.held_until)
            kept = points.get(point.code)
            # Held twice (given back later): the latest holding counts.
            if kept is None or (point.held_from or datetime.date.min) > (kept.held_from or datetime.date.min):
                points[point.code] = point
        return list(points.values())

    @classmethod
    def get_for_customer(cls, code, customer):
        """The supply point with this code the customer holds or held (with the days of
        that holding), or None: never another's."""
        return next((point for point in cls.of_customer(id_of(customer)) if point.code == code),
                    None)


def _as_date(value):
    """A date selected beside a model's own fields comes as text from SQLite."""
    if isinstance(value, str):
        return datetime.date.fromisoformat(value)
    return value


class Holding(BaseModel):
    """Who held a supply point when (volture, subentri): from start_date (None: since
    the point's first data) up to end_date, exclusive (None: held today). The open
    holding's customer is SupplyPoint.customer."""

    supply_point = ForeignKeyField(SupplyPoint, backref="holdings", on_delete="CASCADE")
    customer = ForeignKeyField(Customer, backref="holdings", on_delete="CASCADE")
    start_date = DateField(null=True)
    end_date = DateField(null=True)

    class Meta:
        indexes = ((("supply_point", "start_date"), False),)

    @property
    def last_day(self):
        """The holding's last day, None while it runs."""
        return self.end_date - datetime.timedelta(days=1) if self.end_date else None

    def covers(self, day):
        return ((self.start_date is None or self.start_date <= day)
                and (self.end_date is None or day < self.end_date))


_customer_for_session = Prepared(lambda ident, version: Customer.select().where(
    (Customer.id == ident) & (Customer.session_version == version)))
_supply_points_of_customer = Prepared(lambda customer_id: SupplyPoint
                                      .select(SupplyPoint, Holding.start_date.alias("held_from"),
                                              Holding.end_date.alias("held_until"))
                                      .join(Holding, on=(Holding.supply_point == SupplyPoint.id))
                                      .where(Holding.customer == customer_id)
                                      .order_by(SupplyPoint.code))


def held_days(supply_point):
    """(first, last) day of the holding a point of SupplyPoint.of_customer carries,
    with the widest dates standing for "no limit": the bounds of every query of that
    customer's consumption and measurements."""
    last = (supply_point.held_until - datetime.timedelta(days=1)
            if supply_point.held_until else datetime.date.max)
    return supply_point.held_from or datetime.date.min, last


class Invoice(BaseModel):
    number = CharField(unique=True)
    supply_point = ForeignKeyField(SupplyPoint, backref="invoices", on_delete="CASCADE")
    # The holder the invoice is addressed to: only they see it.
    customer = ForeignKeyField(Customer, backref="invoices", on_delete="CASCADE", null=True)
    date = DateField()
    period_start = DateField()
    period_end = DateField()
    amount = DecimalField(max_digits=12, decimal_places=2)
    due_date = DateField()
    paid = BooleanField(default=False)
    pdf_path = CharField(null=True)
    # How to pay, as the billing system says: a pagoPA notice (codice avviso and the
    # creditor's codice fiscale), a payment link, or the masked IBAN of the direct debit.
    pagopa_notice = CharField(null=True)
    pagopa_creditor = CharField(null=True)
    payment_link = CharField(null=True, max_length=500)
    direct_debit_iban = CharField(null=True)

    class Meta:
        indexes = ((("supply_point", "date"), False),)

    def save(self, *args, **kwargs):
        """An invoice without a holder is the point's current holder's."""
        if self.customer_id is None and self.supply_point_id is not None:
            self.customer_id = (SupplyPoint.select(SupplyPoint.customer)
                                .where(SupplyPoint.id == self.supply_point_id).scalar())
        return super().save(*args, **kwargs)

    @property
    def status(self):
        if self.paid:
            return "Pagata"
        if self.due_date < rome_now().date():
            return "Scaduta"
        return "Da pagare"

    @classmethod
    def for_supply_point(cls, supply_point, customer):
        """The customer's invoices of the point, newest first."""
        return (cls
                .select()
                .where((cls.supply_point == supply_point) & (cls.customer == customer))
                .order_by(cls.date.desc(), cls.number.desc()))

    @classmethod
    def latest_for(cls, supply_point, customer):
        return _latest_invoice.first(id_of(supply_point), id_of(customer))

    @classmethod
    def get_for_customer(cls, invoice_id, customer):
        return _invoice_of_customer.first(invoice_id, id_of(customer))

    @classmethod
    def unpaid_for(cls, supply_point, customer):
        """The customer's unpaid invoices of the point, oldest due first."""
        return (cls
                .select()
                .where((cls.supply_point == supply_point) & (cls.customer == customer)
                       & (cls.paid == False))  # noqa: E712 (Peewee expression)
                .order_by(cls.due_date, cls.number))


_latest_invoice = Prepared(lambda supply_point, customer: Invoice
                           .for_supply_point(supply_point, customer).limit(1))
_invoice_of_customer = Prepared(lambda invoice_id, customer: Invoice.select().where(
    (Invoice.id == invoice_id) & (Invoice.customer == customer)))


class BilledConsumption(BaseModel):
    supply_point = ForeignKeyField(SupplyPoint, backref="consumptions", on_delete="CASCADE")
    period_start = DateField()
    period_end = DateField()
    energy_f1 = FloatField(null=True)
    energy_f2 = FloatField(null=True)
    energy_f3 = FloatField(null=True)
    energy_total = FloatField()
    max_power = FloatField(null=True)
    unit = CharField(max_length=3)
    # What the billed period rests on: "letta" (the distributor's reading),
    # "autolettura" or "stimata"; NULL when the billing system did not say.
    reading_kind = CharField(max_length=12, null=True)

    KINDS = ("letta", "autolettura", "stimata")

    class Meta:
        indexes = ((("supply_point", "period_start"), True),)

    @classmethod
    def for_supply_point(cls, supply_point, first=datetime.date.min, last=datetime.date.max):
        """The point's billed periods starting between the days `first` and `last`."""
        return (cls
                .select()
                .where((cls.supply_point == supply_point)
                       & cls.period_start.between(first, last))
                .order_by(cls.period_start))

    @classmethod
    def periods_of(cls, supply_point, first, last):
        """(period_start, period_end, f1, f2, f3, total, max_power, unit, reading_kind)
        tuples of the
        periods starting between the days `first` and `last`, oldest first."""
        return _billed_periods.tuples(id_of(supply_point), first, last)

    @classmethod
    def latest_of(cls, supply_point, first, last):
        """The point's last billed period starting between `first` and `last`, or None."""
        return _latest_billed_period.first(id_of(supply_point), first, last)


_billed_periods = Prepared(lambda supply_point, first, last: BilledConsumption
                          .select(BilledConsumption.period_start, BilledConsumption.period_end,
                                  BilledConsumption.energy_f1, BilledConsumption.energy_f2,
                                  BilledConsumption.energy_f3, BilledConsumption.energy_total,
                                  BilledConsumption.max_power, BilledConsumption.unit,
                                  BilledConsumption.reading_kind)
                          .where((BilledConsumption.supply_point == supply_point)
                                 & BilledConsumption.period_start.between(first, last))
                          .order_by(BilledConsumption.period_start))


_latest_billed_period = Prepared(lambda supply_point, first, last: BilledConsumption
                                .select()
                                .where((BilledConsumption.supply_point == supply_point)
                                       & BilledConsumption.period_start.between(first, last))
                                .order_by(BilledConsumption.period_start.desc())
                                .limit(1))


class MergeRun(BaseModel):
    """One file merged in batches (portal/exchange/batched.py). Its id is the
    generation of the rows it writes; they are shown once it is published."""

    MERGING = "merging"
    PUBLISHED = "published"
    ABANDONED = "abandoned"

    kind = CharField()
    file_name = CharField()
    state = CharField(default=MERGING)
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    # The largest row id before the run: every row it inserts lies above it.
    first_id = BigIntegerField(default=0)

    @classmethod
    def published_generation(cls):
        """A subquery: the newest published run's id, 0 before any."""
        return (cls
                .select(fn.COALESCE(fn.MAX(cls.id), 0))
                .where(cls.state == cls.PUBLISHED))


class Measurement(BaseModel):
    """One interval of an electricity meter; timestamp is the interval start in UTC
    epoch seconds, which keeps range scans and DST arithmetic cheap and unambiguous.

    A large file is merged in many short transactions without anybody seeing half of
    it: its rows carry the run that wrote them (`generation`), the rows it replaces
    the run that replaces them (`replaced_in`), and `visible()` shows a run's rows,
    and hides the rows it replaces, only once the run is published. Rows written
    otherwise have generation 0."""

    # No index of its own: the unique (point, timestamp, generation) index below starts
    # with the point and serves every lookup by point (migration 13 dropped the one that
    # repeated it, an index every imported row had to be written into).
    supply_point = ForeignKeyField(SupplyPoint, backref="measurements", on_delete="CASCADE",
                                   index=False)
    timestamp = BigIntegerField()
    active_energy_kwh = FloatField()
    power_kw = FloatField(null=True)
    generation = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    replaced_in = IntegerField(null=True)

    class Meta:
        # One visible row per (point, timestamp); a run being merged adds its own.
        indexes = ((("supply_point", "timestamp", "generation"), True),)

    @classmethod
    def visible(cls):
        """The condition of the rows customers see."""
        published = MergeRun.published_generation()
        return ((cls.generation <= published)
                & (cls.replaced_in.is_null() | (cls.replaced_in > published)))


# The rows a published run replaced, found without a scan to be deleted.
Measurement.add_index(Measurement.index(Measurement.replaced_in)
                      .where(Measurement.replaced_in.is_null(False)))


class Document(BaseModel):
    """A file published to one customer (I miei documenti)."""

    customer = ForeignKeyField(Customer, backref="documents", on_delete="CASCADE")
    title = CharField()
    date = DateField()
    file_path = CharField()

    class Meta:
        indexes = ((("customer", "file_path"), True),)

    @classmethod
    def for_customer(cls, customer):
        return (cls
                .select()
                .where(cls.customer == customer)
                .order_by(cls.date.desc(), cls.id.desc()))

    @classmethod
    def list_for(cls, customer):
        return _documents_of_customer(id_of(customer))


_documents_of_customer = Prepared(lambda customer: Document.for_customer(customer))


class Form(BaseModel):
    """A file published to every customer (Modulistica)."""

    title = CharField()
    date = DateField()
    file_path = CharField(unique=True)

    @classmethod
    def in_order(cls):
        return cls.select().order_by(cls.date.desc(), cls.id.desc())


class ReadingWindow(BaseModel):
    """A period in which self-readings are accepted, in Rome local time; no supply
    point means every gas point."""

    supply_point = ForeignKeyField(SupplyPoint, null=True, backref="reading_windows",
                                   on_delete="CASCADE")
    start_at = DateTimeField()
    end_at = DateTimeField()

    @classmethod
    def for_supply_point(cls, supply_point):
        return (cls
                .select()
                .where((cls.supply_point.is_null()) | (cls.supply_point == supply_point))
                .order_by(cls.start_at.desc()))

    @classmethod
    def open_at(cls, supply_point, moment):
        return _open_window.first(id_of(supply_point), moment, moment)

    @classmethod
    def next_after(cls, supply_point, moment):
        return _next_window.first(id_of(supply_point), moment)

    @classmethod
    def not_over(cls, supply_point, moment):
        """The windows that have not ended at `moment`, the soonest first."""
        return _windows_not_over(id_of(supply_point), moment)


_open_window = Prepared(lambda supply_point, start, end: ReadingWindow
                        .for_supply_point(supply_point)
                        .where((ReadingWindow.start_at <= start) & (ReadingWindow.end_at >= end))
                        .limit(1))
_next_window = Prepared(lambda supply_point, moment: ReadingWindow
                        .select()
                        .where(((ReadingWindow.supply_point.is_null())
                                | (ReadingWindow.supply_point == supply_point))
                               & (ReadingWindow.start_at > moment))
                        .order_by(ReadingWindow.start_at)
                        .limit(1))
_windows_not_over = Prepared(lambda supply_point, moment: ReadingWindow
                             .for_supply_point(supply_point)
                             .where(ReadingWindow.end_at >= moment)
                             .order_by(ReadingWindow.start_at, ReadingWindow.id))


class AcquisitionRun(BaseModel):
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    reading_count = IntegerField(default=0)
    file_path = CharField(null=True)
    trigger = CharField(default="command")


class SelfReading(BaseModel):
    PENDING = "Da acquisire"
    ACQUIRED = "Acquisita"

    supply_point = ForeignKeyField(SupplyPoint, backref="self_readings", on_delete="CASCADE")
    # Who entered it: the holder of the point that day; only they see it.
    customer = ForeignKeyField(Customer, backref="self_readings", on_delete="CASCADE", null=True)
    reading_date = DateField()
    meter_reading = BigIntegerField()
    corrector_reading = BigIntegerField(null=True)
    status = CharField(default=PENDING, index=True)
    submitted_at = DateTimeField(default=utcnow)
    acquired_at = DateTimeField(null=True)
    acquisition_run = ForeignKeyField(AcquisitionRun, null=True, on_delete="SET NULL")
    info = CharField(default="")
    outcome = CharField(null=True)
    outcome_reason = CharField(default="")
    # The meter's photo under FILES_DIR (resized, EXIF stripped), if one came with it.
    photo_path = CharField(null=True)
    # How it reached the utility when an operator entered it (NULL: the customer in
    # the portal), and the operator's username.
    channel = CharField(max_length=12, null=True)
    operator = CharField(max_length=64, null=True)

    CHANNELS = ("telefono", "email", "posta", "sportello")

    class Meta:
        # One reading per supply point per (Rome) day: the database decides, not a
        # check in Python, so simultaneous submissions cannot both win.
        indexes = ((("supply_point", "reading_date"), True),)

    @property
    def is_pending(self):
        return self.status == self.PENDING

    def save(self, *args, **kwargs):
        """A reading without a customer is the point's current holder's."""
        if self.customer_id is None and self.supply_point_id is not None:
            self.customer_id = (SupplyPoint.select(SupplyPoint.customer)
                                .where(SupplyPoint.id == self.supply_point_id).scalar())
        return super().save(*args, **kwargs)

    @classmethod
    def for_supply_point(cls, supply_point, customer):
        """The customer's readings of the point, newest first."""
        return (cls
                .select()
                .where((cls.supply_point == supply_point) & (cls.customer == customer))
                .order_by(cls.reading_date.desc()))

    @classmethod
    def latest_for(cls, supply_point, customer):
        return _latest_reading.first(id_of(supply_point), id_of(customer))

    @classmethod
    def count_for(cls, supply_point, customer):
        return _reading_count.tuples(id_of(supply_point), id_of(customer))[0][0]

    @classmethod
    def page_for(cls, supply_point, customer, limit, offset):
        """`limit` of the customer's readings of the point from `offset`, newest first."""
        return _reading_page(id_of(supply_point), id_of(customer), limit, offset)


_latest_reading = Prepared(lambda supply_point, customer: SelfReading
                           .for_supply_point(supply_point, customer).limit(1))
_reading_count = Prepared(lambda supply_point, customer: SelfReading
                          .select(fn.COUNT(SelfReading.id))
                          .where((SelfReading.supply_point == supply_point)
                                 & (SelfReading.customer == customer)))
_reading_page = Prepared(lambda supply_point, customer, limit, offset: SelfReading
                         .for_supply_point(supply_point, customer).limit(limit).offset(offset))


class Ticket(BaseModel):
    OPEN = "Aperto"
    IN_PROGRESS = "In lavorazione"
    CLOSED = "Chiuso"
    CATEGORIES = ("Fatturazione", "Letture", "Contratto", "Guasto / tecnico", "Altro")

    customer = ForeignKeyField(Customer, backref="tickets", on_delete="CASCADE")
    supply_point = ForeignKeyField(SupplyPoint, null=True, on_delete="SET NULL")
    category = CharField()
    subject = CharField()
    status = CharField(default=OPEN, index=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow, index=True)
    # A case (portal/tickets.py, TIQV): its type, codice pratica, when it was received
    # and first answered (UTC), the answer's deadline (a date in Rome, NULL: none), the
    # fields its type asks for, and the outcome for the register.
    kind = CharField(default="altro", index=True)
    code = CharField(null=True, unique=True)
    received_at = DateTimeField(default=utcnow)
    answered_at = DateTimeField(null=True)
    due_on = DateField(null=True, index=True)
    details = JSONField(default=dict)
    outcome = CharField(default="")

    def save(self, *args, **kwargs):
        """A new case without a codice pratica gets CP-<year received in Rome>-<number>."""
        result = super().save(*args, **kwargs)
        if self.code is None and self.id is not None:
            received = self.received_at.replace(tzinfo=datetime.timezone.utc).astimezone(ROME)
            self.code = f"CP-{received.year}-{self.id:06d}"
            Ticket.update(code=self.code).where(Ticket.id == self.id).execute()
        return result

    @classmethod
    def for_customer(cls, customer):
        return (cls
                .select()
                .where(cls.customer == customer)
                .order_by(cls.updated_at.desc()))

    @classmethod
    def get_for_customer(cls, ticket_id, customer):
        return cls.select().where((cls.id == ticket_id) & (cls.customer == customer)).first()


class Operator(LoginThrottle, BaseModel):
    OPERATOR = "operator"
    ADMIN = "admin"

    username = CharField(unique=True)
    name = CharField(default="")
    password_hash = CharField()
    role = CharField(default=OPERATOR)
    active = BooleanField(default=True)
    session_version = IntegerField(default=1)
    failed_logins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    # Set when an admin chose the password: the operator must replace it at next login,
    # so that no admin knows a colleague's working password.
    must_change_password = BooleanField(default=False)

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return f"o:{self.id}:{self.session_version}"


class TicketMessage(BaseModel):
    ticket = ForeignKeyField(Ticket, backref="messages", on_delete="CASCADE")
    operator = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
    from_customer = BooleanField(default=True)
    # Internal notes of the back-office: never shown to the customer.
    internal = BooleanField(default=False)
    body = TextField()
    created_at = DateTimeField(default=utcnow)
    attachment_path = CharField(null=True)
    attachment_name = CharField(null=True)
    attachment_type = CharField(null=True)


class PublicComplaint(BaseModel):
    """A complaint sent without logging in (TIQV): waits for its e-mail address to
    confirm by a link; then it becomes a case of the customer the bill data name, or
    waits for an operator to match it."""

    PENDING = "pending"        # the link is not used yet
    UNMATCHED = "unmatched"    # confirmed; no customer agrees with the data
    MATCHED = "matched"        # a case of a customer (ticket)

    name = CharField()
    customer_code = CharField(default="")
    point_code = CharField(default="")
    address = CharField(default="")
    email = CharField()
    subject = CharField()
    body = TextField()
    status = CharField(default=PENDING, index=True)
    code = CharField(null=True, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    confirmed_at = DateTimeField(null=True)
    ticket = ForeignKeyField(Ticket, null=True, on_delete="SET NULL")


class OutgoingMail(BaseModel):
    """The outgoing-mail queue and its record: a page adds a row in its own transaction
    (so a rolled-back action sends nothing) and the sender in portal/mail.py delivers it.
    The message itself (which may hold a temporary password) is kept only until it is
    delivered; afterwards the row says what was sent to whom and how it went."""

    QUEUED = "queued"      # waiting for its first or next attempt (next_attempt_at)
    SENDING = "sending"    # claimed by one sender until claimed_until
    SENT = "sent"          # accepted by the SMTP server
    OUTBOX = "outbox"      # written to OUTBOX_DIR (no MAIL_SERVER)
    FAILED = "failed"      # failed for good: an admin may send it again

    recipient = CharField()
    subject = CharField()
    kind = CharField()
    customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    status = CharField()
    error = CharField(default="")
    message = TextField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    claimed_until = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)

    @classmethod
    def failed_for_good(cls):
        """Messages no sender will try again, newest first (the back-office list)."""
        return (cls
                .select(cls, Customer)
                .join(Customer, JOIN.LEFT_OUTER)
                .where(cls.status == cls.FAILED)
                .order_by(cls.created_at.desc(), cls.id.desc()))


class RegistrationRequest(BaseModel):
    """A registrant asked for the first password at an address other than the one the
    billing system has on file: nothing is sent there until the address on file (by a
    signed link) or an operator confirms."""

    PENDING = "pending"
    CONFIRMED = "confirmed"

    customer = ForeignKeyField(Customer, backref="registration_requests", on_delete="CASCADE")
    email = CharField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    status = CharField(default=PENDING)
    confirmed_at = DateTimeField(null=True)
    # Null when the address on file confirmed through its link.
    confirmed_by = ForeignKeyField(Operator, null=True, on_delete="SET NULL")

    @classmethod
    def pending_for(cls, customer):
        """The customer's requests still waiting, newest first."""
        return (cls
                .select()
                .where((cls.customer == customer) & (cls.status == cls.PENDING)
                       & (cls.expires_at > utcnow()))
                .order_by(cls.created_at.desc(), cls.id.desc()))


class AuditLog(BaseModel):
    at = DateTimeField(default=utcnow, index=True)
    event = CharField(index=True)
    customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    operator = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
    ip = CharField(default="")
    detail = CharField(default="")

    class Meta:
        indexes = ((("customer", "at"), False),)

    @classmethod
    def email_changes_since(cls, customer, since):
        """How many times the customer changed their e-mail address since `since`
        (a contact change records the fields it changed in `detail`)."""
        return (cls
                .select()
                .where((cls.customer == customer)
                       & (cls.event == "contact_changed")
                       & (cls.at >= since)
                       & cls.detail.contains("email"))
                .count())


class FormSubmission(BaseModel):
    """The first result of one submission of a creating form: a repeated submission
    (a retry, a double click) with the same token is sent there instead of creating
    again. owner: "c:<customer id>" or "o:<operator id>"."""

    owner = CharField(max_length=24)
    token = CharField(max_length=64)
    result_url = CharField()
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("owner", "token"), True),)

    @classmethod
    def result_of(cls, owner, token):
        """The URL of the first result of this owner's token, or None."""
        return _form_submission_result.first(owner, token)


_form_submission_result = Prepared(lambda owner, token: FormSubmission.select().where(
    (FormSubmission.owner == owner) & (FormSubmission.token == token)))


class Notice(BaseModel):
    """One notice given to a customer about one thing (an invoice, a reading window of a
    point, a rejected reading): the unique key makes it once, however often the
    schedule or an import runs. mail is None when the customer turned the kind off or
    has no e-mail address: the notice still counts as given."""

    customer = ForeignKeyField(Customer, backref="notices", on_delete="CASCADE")
    kind = CharField(max_length=32)
    about = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    mail = ForeignKeyField(OutgoingMail, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("customer", "kind", "about"), True),)


class NoticeOptOut(BaseModel):
    """A kind of notice the customer does not want (every kind goes by default)."""

    customer = ForeignKeyField(Customer, backref="notice_opt_outs", on_delete="CASCADE")
    kind = CharField(max_length=32)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("customer", "kind"), True),)


class DirectDebitMandate(BaseModel):
    """A SEPA direct-debit mandate (domiciliazione) a customer signed in the portal for
    one supply point: sent to the billing system by an export file, its outcome back
    by an import. A change is a new mandate; a revocation goes the same way."""
    PENDING = "In attesa"
    ACTIVE = "Attivo"
    REJECTED = "Rifiutato"
    REVOKING = "Revoca in corso"
    REVOKED = "Revocato"
    REPLACED = "Sostituito"

    reference = CharField(unique=True, max_length=35)
    customer = ForeignKeyField(Customer, backref="mandates", on_delete="CASCADE")
    supply_point = ForeignKeyField(SupplyPoint, backref="mandates", on_delete="CASCADE")
    # The whole IBAN goes to the billing system; pages only ever show the masked one.
    iban = CharField(max_length=34)
    account_holder = CharField(max_length=70)
    holder_tax_code = CharField(null=True, max_length=16)
    status = CharField(default=PENDING, index=True)
    signed_at = DateTimeField(default=utcnow)
    exported_at = DateTimeField(null=True)
    revoke_requested_at = DateTimeField(null=True)
    revoke_exported_at = DateTimeField(null=True)
    outcome_reason = CharField(default="")

    @property
    def masked_iban(self):
        return f"{self.iban[:2]}..{self.iban[-4:]}"

    @classmethod
    def for_supply_point(cls, supply_point, customer):
        """The customer's mandates of the point, newest first."""
        return (cls
                .select()
                .where((cls.supply_point == supply_point) & (cls.customer == customer))
                .order_by(cls.signed_at.desc(), cls.id.desc()))

    @classmethod
    def get_for_customer(cls, mandate_id, customer):
        return cls.get_or_none((cls.id == mandate_id) & (cls.customer == id_of(customer)))

    @classmethod
    def waiting_for_export(cls):
        """New mandates and revocations the billing system has not been sent yet."""
        return (cls
                .select()
                .where(((cls.status == cls.PENDING) & cls.exported_at.is_null())
                       | ((cls.status == cls.REVOKING) & cls.revoke_exported_at.is_null())))


class PaymentReport(BaseModel):
    """A customer's "Segnala pagamento": the receipt of a payment the invoice does not
    show yet, for the back-office to check."""

    invoice = ForeignKeyField(Invoice, backref="payment_reports", on_delete="CASCADE")
    customer = ForeignKeyField(Customer, backref="payment_reports", on_delete="CASCADE")
    file_path = CharField()
    file_name = CharField()
    content_type = CharField()
    reported_at = DateTimeField(default=utcnow, index=True)
    # An operator checked the receipt ("verificato"): the report leaves the queue; the
    # invoice stays unpaid for the customer until the billing system's import says so.
    handled_at = DateTimeField(null=True, index=True)
    handled_by = ForeignKeyField(Operator, null=True, backref="handled_payment_reports",
                                 on_delete="SET NULL")
    handled_note = TextField(null=True)

    @classmethod
    def latest_for(cls, invoice):
        return (cls.select().where(cls.invoice == invoice)
                .order_by(cls.reported_at.desc()).first())


class SchemaVersion(BaseModel):
    version = IntegerField()


MODELS = [Customer, SupplyPoint, Holding, Invoice, BilledConsumption, MergeRun, Measurement,
          Document, Form, ReadingWindow, AcquisitionRun, SelfReading, Ticket, Operator,
          TicketMessage, OutgoingMail, RegistrationRequest, AuditLog, FormSubmission,
          PublicComplaint, Notice, NoticeOptOut, DirectDebitMandate, PaymentReport,
          SchemaVersion]


# Each migration takes an existing database from version N-1 to N. Append, never edit:
# a database made by any earlier release must reach the current schema with its data.
def _migrate_2(database):
    """Version 2: reading outcomes from the billing system."""
    from playhouse.migrate import SchemaMigrator, migrate
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("self_reading", "outcome", SelfReading.outcome),
        migrator.add_column("self_reading", "outcome_reason", SelfReading.outcome_reason),
    )


def _migrate_3(database):
    """Version 3: holders over time. Each point gets one holding, its current
    customer's since the point's earliest data; every invoice and reading is that
    customer's."""
    from playhouse.migrate import SchemaMigrator, migrate
    database.create_tables([Holding])
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("invoice", "customer_id", Invoice.customer),
        migrator.add_column("self_reading", "customer_id", SelfReading.customer),
    )
    earliest = {}

    def keep(point, day):
        if day is not None and (point not in earliest or day < earliest[point]):
            earliest[point] = day

    for model, field in ((Invoice, Invoice.period_start),
                         (BilledConsumption, BilledConsumption.period_start),
                         (SelfReading, SelfReading.reading_date)):
        for point, day in (model.select(model.supply_point, fn.MIN(field).alias("day"))
                           .group_by(model.supply_point).tuples()):
            keep(point, _as_date(day))
    for point, first in (Measurement.select(Measurement.supply_point, fn.MIN(Measurement.timestamp))
                         .group_by(Measurement.supply_point).tuples()):
        keep(point, datetime.datetime.fromtimestamp(first, ROME).date())
    holdings = [(point, customer, earliest.get(point)) for point, customer in
                SupplyPoint.select(SupplyPoint.id, SupplyPoint.customer).tuples()]
    for batch in chunked(holdings, 500):
        Holding.insert_many(batch, fields=[Holding.supply_point, Holding.customer,
                                           Holding.start_date]).execute()
    for model in (Invoice, SelfReading):
        holder = (SupplyPoint.select(SupplyPoint.customer)
                  .where(SupplyPoint.id == model.supply_point))
        model.update(customer=holder).execute()


def _migrate_4(database):
    """Version 4: operators must replace a password an admin set for them."""
    from playhouse.migrate import SchemaMigrator, migrate
    migrator = SchemaMigrator.from_database(database)
    migrate(migrator.add_column("operator", "must_change_password",
                                Operator.must_change_password))


def _migrate_5(database):
    """Version 5: the outgoing-mail queue (the message, its attempts and claim) on OutgoingMail,
    and registration requests waiting for the address on file. Rows recorded before
    it keep their status (sent, outbox, failed) and have no message to send."""
    from playhouse.migrate import SchemaMigrator, migrate
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("outgoing_mail", "message", OutgoingMail.message),
        migrator.add_column("outgoing_mail", "attempts", OutgoingMail.attempts),
        migrator.add_column("outgoing_mail", "next_attempt_at", OutgoingMail.next_attempt_at),
        migrator.add_column("outgoing_mail", "claimed_until", OutgoingMail.claimed_until),
        migrator.add_column("outgoing_mail", "sent_at", OutgoingMail.sent_at),
        migrator.add_index("outgoing_mail", ("status", "next_attempt_at"), False),
    )
    database.create_tables([RegistrationRequest])


def _migrate_6(database):
    """Version 6: idempotency tokens of the creating forms; measurements merged in
    batches (a generation per merge run). Adding a column with a constant default
    is instant on both databases, whatever the table holds; the new unique index is
    built once."""
    database.create_tables([FormSubmission, MergeRun])
    # Each step only when missing: a database that has them already (made by this
    # code and marked older by hand, as a test does) migrates all the same.
    columns = {column.name for column in database.get_columns("measurement")}
    if "generation" not in columns:
        database.execute_sql('ALTER TABLE "measurement" ADD COLUMN "generation" '
                             'INTEGER NOT NULL DEFAULT 0')
    if "replaced_in" not in columns:
        database.execute_sql('ALTER TABLE "measurement" ADD COLUMN "replaced_in" INTEGER')
    database.execute_sql('DROP INDEX IF EXISTS "measurement_supply_point_id_timestamp"')
    Measurement._schema.create_indexes(safe=True)


def _migrate_customer_language(database):
    """The language a customer chose for the portal and its e-mails (NULL: not chosen)."""
    from playhouse.migrate import SchemaMigrator, migrate
    if "language" in {column.name for column in database.get_columns("customer")}:
        return
    migrate(SchemaMigrator.from_database(database).add_column("customer", "language",
                                                              Customer.language))


def _migrate_readings_from_every_channel(database):
    """A self-reading's meter photo, channel and operator; the kind of reading each
    billed period rests on. Nullable columns: old rows are the customer's own portal
    readings without a photo, and periods whose kind nobody said."""
    from playhouse.migrate import SchemaMigrator, migrate
    migrator = SchemaMigrator.from_database(database)
    steps = []
    for table, fields in (("self_reading", (SelfReading.photo_path, SelfReading.channel,
                                            SelfReading.operator)),
                          ("billed_consumption", (BilledConsumption.reading_kind,))):
        present = {column.name for column in database.get_columns(table)}
        steps += [migrator.add_column(table, field.column_name, field)
                  for field in fields if field.column_name not in present]
    if steps:
        migrate(*steps)



# The case type each seed category becomes: billing, readings and contract questions
# are written requests for information (30 days), the rest "altro" (no regulated deadline).
LEGACY_CASE_KINDS = {"Fatturazione": "informazioni", "Letture": "informazioni",
                     "Contratto": "informazioni"}


def _migrate_ticket_cases(database):
    """Tickets become cases: a type from the category, a codice pratica, received when
    opened, answered at the utility's first reply, the deadline of the type."""
    from playhouse.migrate import SchemaMigrator, migrate
    columns = {column.name for column in database.get_columns("ticket")}
    migrator = SchemaMigrator.from_database(database)
    steps = [migrator.add_column("ticket", name, getattr(Ticket, name))
             for name in ("kind", "code", "received_at", "answered_at", "due_on", "details",
                          "outcome") if name not in columns]
    if steps:
        migrate(*steps)
    Ticket._schema.create_indexes(safe=True)
    database.create_tables([PublicComplaint])
    # The deadline of a request for information: CASE_DAYS_INFORMATION's default
    # (portal/settings.py; models imports nothing of portal). Calendar days from the day
    # received in Rome.
    information_days = 30
    first_answers = dict(TicketMessage
                         .select(TicketMessage.ticket, fn.MIN(TicketMessage.created_at))
                         .where(~TicketMessage.from_customer & ~TicketMessage.internal)
                         .group_by(TicketMessage.ticket)
                         .tuples())
    cases = []
    for ticket_id, category, created_at in (Ticket.select(Ticket.id, Ticket.category,
                                                          Ticket.created_at).tuples()):
        kind = LEGACY_CASE_KINDS.get(category, "altro")
        received = created_at.replace(tzinfo=datetime.timezone.utc).astimezone(ROME)
        due_on = (received.date() + datetime.timedelta(days=information_days)
                  if kind == "informazioni" else None)
        cases.append(Ticket(id=ticket_id, kind=kind, code=f"CP-{received.year}-{ticket_id:06d}",
                            received_at=created_at, answered_at=first_answers.get(ticket_id),
                            due_on=due_on, details={}))
    # In batches of 500 rows per UPDATE (20,000 tickets on SQLite: 5.5 s in all, 25 s
    # with one UPDATE per row).
    Ticket.bulk_update(cases, fields=[Ticket.kind, Ticket.code, Ticket.received_at,
                                      Ticket.answered_at, Ticket.due_on, Ticket.details],
                       batch_size=500)


def _migrate_notices(database):
    """The record of notices given and the kinds a customer turned off; bolletta web
    (paperless) and the date of its choice on the customer (off, never chosen)."""
    from playhouse.migrate import SchemaMigrator, migrate
    database.create_tables([Notice, NoticeOptOut])
    columns = {column.name for column in database.get_columns("customer")}
    if "paperless" not in columns:
        # By hand: Peewee's SQLite migrator adds a NOT NULL column by copying the table,
        # and dropping the old customer table would cascade to every supply point.
        database.execute_sql('ALTER TABLE "customer" ADD COLUMN "paperless" BOOLEAN '
                             'NOT NULL DEFAULT FALSE')
    if "paperless_changed_at" not in columns:
        migrate(SchemaMigrator.from_database(database).add_column(
            "customer", "paperless_changed_at", Customer.paperless_changed_at))


def _migrate_payments(database):
    """How to pay an invoice (pagoPA notice, payment link, direct debit), the direct-debit
    mandates signed online and the payments customers report."""
    from playhouse.migrate import SchemaMigrator, migrate
    columns = {column.name for column in database.get_columns("invoice")}
    migrator = SchemaMigrator.from_database(database)
    migrate(*[migrator.add_column("invoice", field.column_name, field)
              for field in (Invoice.pagopa_notice, Invoice.pagopa_creditor,
                            Invoice.payment_link, Invoice.direct_debit_iban)
              if field.column_name not in columns])
    database.create_tables([DirectDebitMandate, PaymentReport])


def _migrate_payment_report_handling(database):
    """Who verified a reported payment, when, with which note (all empty on the
    reports made before: they stay in the queue)."""
    from playhouse.migrate import SchemaMigrator, migrate
    columns = {column.name for column in database.get_columns("payment_report")}
    migrator = SchemaMigrator.from_database(database)
    migrate(*[migrator.add_column("payment_report", field.column_name, field)
              for field in (PaymentReport.handled_at, PaymentReport.handled_by,
                            PaymentReport.handled_note)
              if field.column_name not in columns])  # handled_at's index comes with it


def _migrate_measurement_point_index(database):
    """Version 13: without the index on measurement.supply_point_id alone, which the
    unique (supply_point_id, timestamp, generation) index repeats; each imported
    measurement was written into both (bench/RESULTS.md, imports on PostgreSQL)."""
    database.execute_sql('DROP INDEX IF EXISTS "measurement_supply_point_id"')


MIGRATIONS = {2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5, 6: _migrate_6,
              7: _migrate_customer_language, 8: _migrate_readings_from_every_channel,
              9: _migrate_ticket_cases, 10: _migrate_notices, 11: _migrate_payments,
              12: _migrate_payment_report_handling, 13: _migrate_measurement_point_index}
SCHEMA_VERSION = max(MIGRATIONS)


def schema_version():
    """The version stored in the database, 0 when it has no schema yet."""
    if not SchemaVersion.table_exists():
        return 0
    return SchemaVersion.select(fn.MAX(SchemaVersion.version)).scalar() or 0


def init_schema():
    """Create the schema on an empty database or migrate an older one; return the
    version reached."""
    with db.atomic():
        current = schema_version()
        if current == 0:
            db.create_tables(MODELS)
            SchemaVersion.create(version=SCHEMA_VERSION)
            return SCHEMA_VERSION
        for version in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](db.obj)
            SchemaVersion.create(version=version)
        return SCHEMA_VERSION


def audit(event, customer=None, operator=None, ip="", detail=""):
    """Record a security-relevant event (never a secret in `detail`)."""
    return AuditLog.create(event=event, customer=customer, operator=operator,
                           ip=ip or "", detail=detail[:255])
