"""Notices to customers (new invoices, reading windows, rejected readings, invoices falling
due): each given once, in the customer's language, only of the kinds they want.

How a notice is given once: before its mail is queued, a Notice row is inserted under the
unique key (customer, kind, about) with INSERT ... ON CONFLICT DO NOTHING, in the same
transaction as the mail. Only the inserter that wrote the row queues the mail; an import
run again, the schedule run again, or two workers at once find the row and do nothing
(on PostgreSQL the second insert waits for the first transaction and then does nothing;
on SQLite every write transaction takes the write lock first). A notice of a kind the
customer turned off is recorded too, with no mail: turning the kind on again later does
not send the past.

When: the rejected readings of an outcomes file in that import's transaction (a
rolled-back file tells nobody); the new invoices of an invoice file right after its
commit, one short transaction per customer (a billing run must not hold the write lock
while thousands of mails are composed), and should that be cut short, the schedule gives
the rest; the time-based ones by run_schedule(), on the background mail sender every
NOTICE_INTERVAL minutes and from `flask mail notices`.

Unsubscribing: every notice carries RFC 8058 `List-Unsubscribe` (an https link holding a
signed token of customer and kind) and `List-Unsubscribe-Post`. The token is the proof,
so the link works without login and its one-click POST without a CSRF token.
"""
import datetime
import logging
import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from peewee import chunked, fn

from models import (Customer, Invoice, Notice, NoticeOptOut, ReadingWindow, SelfReading,
                    SupplyPoint, db, rome_now, utcnow)
from portal.mail import queue_mail

log = logging.getLogger("area_clienti.notices")

# The kinds a customer chooses, in the order of the preferences page, with what each
# covers. Security and credential mails are not among them: they always go.
INVOICES = "invoices"
READING_WINDOWS = "reading_windows"
REJECTED_READINGS = "rejected_readings"
PAYMENTS = "payments"
TICKETS = "tickets"
KINDS = {
    INVOICES: (_l("Nuove bollette"),
               _l("Quando è disponibile una nuova bolletta, con l'elenco di quelle nuove.")),
    READING_WINDOWS: (_l("Periodi di autolettura"),
                      _l("Quando si apre il periodo per comunicare l'autolettura del gas, e il "
                         "giorno prima che si chiuda se non l'hai ancora comunicata.")),
    REJECTED_READINGS: (_l("Autoletture scartate"),
                        _l("Quando un'autolettura non è stata accettata, con il motivo.")),
    PAYMENTS: (_l("Scadenze di pagamento"),
               _l("Qualche giorno prima della scadenza di una bolletta non pagata (non di "
                  "quelle in addebito diretto), e una volta se risulta scaduta.")),
    TICKETS: (_l("Risposte ai ticket"),
              _l("Quando il servizio clienti risponde a un tuo ticket.")),
}

_SALT = "notice-unsubscribe"
# Customers told per transaction after an invoice import (see new_invoices).
NOTICE_BATCH = 50
# Invoices or points read whole per query once the schedule knows which it still has to tell.
LOAD_BATCH = 500
# Seconds the schedule rests between its write transactions. Without a rest a loop of
# short transactions keeps SQLite's write lock nearly always taken, and a customer's
# save waiting in the busy handler can starve until it fails (503): measured by
# bench/bench_notices.py --starve. Not a rule of the utility's: an engine detail.
WRITE_PAUSE = 0.01


# --- Preferences --------------------------------------------------------------------

def wanted_kinds(customer):
    """The kinds the customer gets (all but those turned off)."""
    off = {row.kind for row in NoticeOptOut.select(NoticeOptOut.kind)
           .where(NoticeOptOut.customer == customer)}
    return [kind for kind in KINDS if kind not in off]


def wants(customer, kind):
    return not (NoticeOptOut.select()
                .where((NoticeOptOut.customer == customer) & (NoticeOptOut.kind == kind))
                .exists())


def set_wanted(customer, kinds):
    """Keep exactly `kinds` on (unknown names are ignored); returns the kinds turned off."""
    with db.atomic():
        NoticeOptOut.delete().where(NoticeOptOut.customer == customer).execute()
        off = [kind for kind in KINDS if kind not in kinds]
        for kind in off:
            NoticeOptOut.create(customer=customer, kind=kind)
    return off


def turn_off(customer, kind):
    """Turn one kind off (the unsubscribe link); True when it was on."""
    return bool(NoticeOptOut.insert(customer=customer, kind=kind)
                .on_conflict_ignore().as_rowcount().execute())


def set_paperless(customer, paperless):
    """Bolletta web on or off, with the moment of the choice (exported to billing); True
    when it changed."""
    return bool(Customer
                .update(paperless=paperless, paperless_changed_at=utcnow())
                .where((Customer.id == customer.id) & (Customer.paperless != paperless))
                .execute())


def unsubscribe_token(customer, kind):
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).dumps(
        [customer.id, kind])


def read_unsubscribe_token(token):
    """(customer, kind) of a token this portal signed, or None."""
    try:
        customer_id, kind = URLSafeSerializer(current_app.config["SECRET_KEY"],
                                              salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if kind not in KINDS or not isinstance(customer_id, int):
        return None
    customer = Customer.get_or_none(Customer.id == customer_id)
    return (customer, kind) if customer is not None else None


def unsubscribe_url(customer, kind):
    base_url = current_app.config["BASE_URL"].rstrip("/")
    return f"{base_url}/avvisi/disiscrizione/{unsubscribe_token(customer, kind)}"


# --- Giving one notice ----------------------------------------------------------------

def _reachable(customer):
    """Notices lead into the portal: only to registered customers with an address."""
    return bool(customer.email) and customer.registered_at is not None


def give(customer, kind, notice, abouts, subject, template, **context):
    """Record the notice `notice` about each of `abouts` for the customer and, when this
    call recorded any and the customer wants `kind`, queue one mail listing them (when
    `abouts` maps each to a thing, the mail gets `listed`: the things recorded now).
    Returns the abouts recorded now (those given before are left out)."""
    with db.atomic():
        fresh = [about for about in abouts
                 if Notice.insert(customer=customer, kind=notice, about=about)
                 .on_conflict_ignore().as_rowcount().execute()]
        if not fresh or not _reachable(customer) or not wants(customer, kind):
            return fresh
        if isinstance(abouts, dict):
            context["listed"] = [abouts[about] for about in fresh]
        url = unsubscribe_url(customer, kind)
        mail = queue_mail(customer.email, subject, template, kind=notice, customer=customer,
                          headers=unsubscribe_headers(url),
                          customer_name=customer.name, unsubscribe_url=url,
                          kind_name=KINDS[kind][0], fresh=fresh, **context)
        (Notice.update(mail=mail)
         .where((Notice.customer == customer) & (Notice.kind == notice)
                & Notice.about.in_(fresh))
         .execute())
    return fresh


def unsubscribe_headers(url):
    """RFC 8058: the one-click unsubscribe link and its POST."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def ticket_answered(customer, ticket):
    """The ticket-answer notice, when the customer wants it (each answer is its own
    event: no record needed to give it once). True when queued."""
    if not customer.email or not wants(customer, TICKETS):
        return False
    url = unsubscribe_url(customer, TICKETS)
    queue_mail(customer.email,
               _l("Area Clienti: risposta alla pratica %(code)s", code=ticket.code),
               "ticket_answer", kind="ticket_answer", customer=customer, ticket=ticket,
               customer_name=customer.name, unsubscribe_url=url, kind_name=KINDS[TICKETS][0],
               headers=unsubscribe_headers(url))
    return True


# --- After an import --------------------------------------------------------------------

def before_import(kind_name, staging):
    """Taken in an import's transaction before it merges, for after_merge and
    after_commit: for invoices
    the highest id so far (the invoices after it are new), for reading outcomes the
    readings of the file already rejected."""
    if kind_name == "invoices":
        return Invoice.select(fn.MAX(Invoice.id)).scalar() or 0
    if kind_name == "reading_outcomes":
        return {reading.id for reading in SelfReading.select(SelfReading.id)
                .where(SelfReading.id.in_(staging.select(staging.self_reading))
                       & (SelfReading.outcome == "scartata"))}
    return None


def after_merge(kind_name, staging, mark):
    """In the import's transaction, after its merge: the rejected readings of an
    outcomes file (a handful of rows), so a rolled-back file tells nobody."""
    if kind_name == "reading_outcomes":
        rejected_readings([row.self_reading for row in staging.select(staging.self_reading)],
                          mark)


def after_commit(kind_name, mark):
    """After the import committed: the new invoices, each customer in a short transaction
    of their own. A billing run adds tens of thousands of invoices: composing their
    mails inside the import's transaction would hold the write lock for a minute. If
    the process stops before all are given, the schedule gives the rest (recent
    invoices without a notice, see run_schedule)."""
    if kind_name != "invoices":
        return
    try:
        new_invoices(Invoice.id > mark)
    except Exception:
        log.exception("new-invoice notices after the import failed: the schedule gives them")


def new_invoices(condition):
    """One notice per customer listing their invoices matching `condition` that were
    issued in the last NOTICE_CATCH_UP_DAYS and not announced yet. Returns how many
    customers were told."""
    catch_up = datetime.timedelta(days=current_app.config["NOTICE_CATCH_UP_DAYS"])
    # Announced ones are skipped here without a write; give() decides all the same.
    given = _given((Notice.kind == "new_invoice")
                   & (Notice.created_at >= utcnow() - catch_up - datetime.timedelta(days=1)))
    by_customer = {}
    for invoice in _invoices_to_tell(
            "new_invoice", given, condition & (Invoice.date >= rome_now().date() - catch_up)
            & Invoice.customer.is_null(False),
            lambda invoice: (invoice.customer_id, invoice.date, invoice.number)):
        by_customer.setdefault(invoice.customer_id, []).append(invoice)
    told = 0
    customers = list(Customer.select().where(Customer.id.in_(list(by_customer))))
    for batch in chunked(customers, NOTICE_BATCH):
        # A few customers per transaction: one disk sync for them all, and the write
        # lock is free again after a fraction of a second.
        with db.atomic():
            for customer in batch:
                invoices = {f"invoice:{invoice.id}": invoice
                            for invoice in by_customer[customer.id]}
                told += bool(give(customer, INVOICES, "new_invoice", invoices,
                                  _l("Area Clienti: nuova bolletta disponibile"),
                                  "notice_invoices"))
        time.sleep(WRITE_PAUSE)
    return told


def rejected_readings(reading_ids, already_rejected):
    """After an outcomes import (in its transaction): a notice for each reading the
    file rejected that was not rejected before. Returns how many."""
    told = 0
    for reading in list(SelfReading.select(SelfReading, SupplyPoint)
                        .join(SupplyPoint)
                        .where(SelfReading.id.in_(reading_ids)
                               & (SelfReading.outcome == "scartata")
                               & SelfReading.customer.is_null(False))):
        if reading.id in already_rejected:
            continue
        told += bool(give(Customer.get_by_id(reading.customer_id), REJECTED_READINGS,
                          "reading_rejected", [f"reading:{reading.id}"],
                          _l("Area Clienti: autolettura non accettata"),
                          "notice_reading_rejected", reading=reading,
                          supply_point=reading.supply_point))
    return told


# --- The schedule ---------------------------------------------------------------------

def run_schedule(now=None):
    """Give the time-based notices that are due at `now` (Rome local time), and the
    new-invoice notices an import did not get to give; returns {notice: how many
    given} (new_invoice: customers told). Safe to run as often and from as many processes as
    wanted: each notice is given once."""
    now = now or rome_now()
    catch_up = datetime.timedelta(days=current_app.config["NOTICE_CATCH_UP_DAYS"])
    counts = {"new_invoice": new_invoices(Invoice.id > 0), "window_open": 0,
              "window_closing": 0, "due_soon": 0, "overdue": 0}
    # Every list read whole before writing: on SQLite a read still open would turn the
    # write transactions' wait for the lock into an immediate "database is locked".
    windows = list(ReadingWindow.select()
                   .where((ReadingWindow.start_at <= now) & (ReadingWindow.end_at > now)))
    for window in windows:
        # What was given already is skipped without a write transaction: the schedule
        # runs every hour over every gas point. (give() alone would be right too.)
        given = _given(Notice.about.startswith(f"window:{window.id}:"))
        opens_now = window.start_at >= now - catch_up
        closes_tomorrow = now.date() >= window.end_at.date() - datetime.timedelta(days=1)
        for point in _gas_points_to_tell(window, given, opens_now, closes_tomorrow):
            customer = point.customer
            about = f"window:{window.id}:{point.id}"
            if opens_now and ("window_open", customer.id, about) not in given:
                counts["window_open"] += bool(give(
                    customer, READING_WINDOWS, "window_open", [about],
                    _l("Area Clienti: è aperto il periodo di autolettura"),
                    "notice_window_open", window=window, supply_point=point))
                time.sleep(WRITE_PAUSE)
            if (closes_tomorrow and ("window_closing", customer.id, about) not in given
                    and not _read_in(window, point, customer)):
                counts["window_closing"] += bool(give(
                    customer, READING_WINDOWS, "window_closing", [about],
                    _l("Area Clienti: il periodo di autolettura sta per chiudersi"),
                    "notice_window_closing", window=window, supply_point=point))
                time.sleep(WRITE_PAUSE)
    today = now.date()
    due_days = current_app.config["NOTICE_DUE_DAYS"]
    due_by = today + datetime.timedelta(days=due_days)
    # A payment notice still relevant was recorded within these days (older ones are
    # found by give() all the same).
    given = _given(Notice.kind.in_(["due_soon", "overdue"])
                   & (Notice.created_at >= utcnow() - catch_up
                      - datetime.timedelta(days=due_days + 2)))
    # A bill on direct debit is paid on its due date without the customer: no reminder
    # before it (it would ask them to pay twice); if the debit fails it becomes overdue.
    on_direct_debit = Invoice.direct_debit_iban.is_null(False) & (Invoice.direct_debit_iban != "")
    for notice, condition, subject, template in (
            ("due_soon", (Invoice.due_date >= today) & (Invoice.due_date <= due_by)
             & ~on_direct_debit,
             _l("Area Clienti: una bolletta è in scadenza"), "notice_due_soon"),
            ("overdue", (Invoice.due_date < today) & (Invoice.due_date >= today - catch_up),
             _l("Area Clienti: una bolletta risulta scaduta"), "notice_overdue")):
        for invoice in _invoices_to_tell(notice, given, ~Invoice.paid & condition,
                                         lambda invoice: (invoice.due_date, invoice.id)):
            counts[notice] += bool(give(invoice.customer, PAYMENTS, notice,
                                        [f"invoice:{invoice.id}"], subject, template,
                                        invoice=invoice, supply_point=invoice.supply_point))
            time.sleep(WRITE_PAUSE)
    if any(counts.values()):
        log.info("notices given: %s", counts)
    return counts


def _invoices_to_tell(notice, given, condition, order):
    """The invoices matching `condition` whose `notice` is not in `given`, sorted by `order`,
    with their supply point and customer. The schedule runs every hour over weeks of
    invoices that were nearly all told already: their keys are read first, whole rows
    only for the few left (reading every row whole took seconds each run)."""
    ids = [invoice_id for invoice_id, customer_id in
           Invoice.select(Invoice.id, Invoice.customer).where(condition).tuples()
           if (notice, customer_id, f"invoice:{invoice_id}") not in given]
    return _whole_rows(Invoice.select(Invoice, SupplyPoint, Customer)
                       .join(SupplyPoint).switch(Invoice).join(Customer), ids, order)


def _whole_rows(query, ids, order):
    """The rows of `query` with these ids, read LOAD_BATCH at a time, sorted by `order`
    (each batch comes in its own order)."""
    rows = []
    for batch in chunked(ids, LOAD_BATCH):
        rows.extend(query.where(query.model.id.in_(batch)))
    return sorted(rows, key=order)


def _given(condition):
    """{(kind, customer id, about)} of the notices recorded matching `condition`."""
    return set(Notice.select(Notice.kind, Notice.customer, Notice.about)
               .where(condition).tuples())


def _gas_points_to_tell(window, given, opens_now, closes_tomorrow):
    """The gas points of a window (one, or every gas point) with their holder, whose
    window notices due now are not all in `given`: keys first, whole rows only for
    those left (the schedule runs every hour over every gas point)."""
    query = SupplyPoint.select(SupplyPoint.id, SupplyPoint.customer).where(
        SupplyPoint.commodity == SupplyPoint.GAS)
    if window.supply_point_id is not None:
        query = query.where(SupplyPoint.id == window.supply_point_id)
    kinds = [kind for kind, due in (("window_open", opens_now),
                                    ("window_closing", closes_tomorrow)) if due]
    ids = [point_id for point_id, customer_id in query.tuples()
           if any((kind, customer_id, f"window:{window.id}:{point_id}") not in given
                  for kind in kinds)]
    return _whole_rows(SupplyPoint.select(SupplyPoint, Customer).join(Customer), ids,
                       lambda point: point.id)


def _read_in(window, point, customer):
    """Whether the customer entered a reading of the point inside the window."""
    return (SelfReading.select()
            .where((SelfReading.supply_point == point) & (SelfReading.customer == customer)
                   & (SelfReading.reading_date >= window.start_at.date())
                   & (SelfReading.reading_date <= window.end_at.date()))
            .exists())


def init_app(app):
    """Run the schedule every NOTICE_INTERVAL minutes on the background mail sender's
    thread (0: never; run `flask mail notices` from cron instead)."""
    minutes = app.config["NOTICE_INTERVAL"]
    if minutes > 0:
        app.extensions.setdefault("mail_sender_jobs", {})["notices"] = (minutes * 60,
                                                                       run_schedule)
