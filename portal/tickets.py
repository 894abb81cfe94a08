"""Tickets as cases (TIQV): types, codice pratica, deadlines and indemnities, receipts,
replies from either side, internal notes, the complaint without login, the register."""
import datetime
import logging
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from peewee import JOIN, Case, fn

from portal import attachments, notices
from portal.formatting import CSV_BOM, csv_cell, csv_line, local_date, local_datetime_text
from portal.mail import queue_mail
from portal.settings import SETTINGS
from models import (ROME, Customer, Invoice, Operator, PublicComplaint, SupplyPoint, Ticket, TicketMessage,
                    db, utcnow)

log = logging.getLogger("area_clienti.tickets")

STATUSES = (Ticket.OPEN, Ticket.IN_PROGRESS, Ticket.CLOSED)


@dataclass(frozen=True)
class Kind:
    """A case type: its label, the setting with its deadline in days (None: no
    deadline), whether a late answer earns the automatic indemnity, and the seed's
    category it files under."""
    code: str
    label: object
    days_setting: str = None
    indemnity: bool = False
    category: str = "Altro"
    invoice: bool = False


KINDS = {kind.code: kind for kind in (
    Kind("reclamo", _l("Reclamo"), "CASE_DAYS_COMPLAINT", True, "Altro"),
    Kind("informazioni", _l("Richiesta di informazioni"), "CASE_DAYS_INFORMATION", False, "Altro"),
    Kind("rettifica", _l("Richiesta di rettifica di fatturazione"),
         "CASE_DAYS_BILLING_CORRECTION", True, "Fatturazione", invoice=True),
    Kind("doppia", _l("Doppia fatturazione"), "CASE_DAYS_DOUBLE_BILLING", True, "Fatturazione",
         invoice=True),
    Kind("voltura", _l("Voltura / subentro"), "CASE_DAYS_REQUEST", False, "Contratto"),
    Kind("disdetta", _l("Disdetta (chiusura della fornitura)"), "CASE_DAYS_REQUEST", False,
         "Contratto"),
    Kind("rateizzazione", _l("Rateizzazione di una fattura"), "CASE_DAYS_REQUEST", False,
         "Fatturazione", invoice=True),
    Kind("indirizzo", _l("Cambio dell'indirizzo postale per le fatture"), "CASE_DAYS_REQUEST",
         False, "Contratto"),
    Kind("altro", _l("Altro")),
)}

# Outcomes for the register (esito della pratica).
OUTCOMES = ("Accolto", "Parzialmente accolto", "Respinto", "Informazioni fornite")


def _setting(name):
    """A setting of the running app, or its documented default (a migration may run
    before any app exists)."""
    try:
        return current_app.config[name]
    except (RuntimeError, KeyError):
        return next(setting.default for setting in SETTINGS if setting.name == name)


def rome_day(moment):
    """The calendar day in the utility's time zone of a UTC timestamp (naive UTC, as
    stored)."""
    if isinstance(moment, datetime.date) and not isinstance(moment, datetime.datetime):
        return moment
    return moment.replace(tzinfo=datetime.timezone.utc).astimezone(ROME).date()


def standard_days(kind, invoice=None):
    """The calendar days the type allows for the answer; None: no deadline. A billing
    correction of an invoice covering four months or more gets the four-monthly days."""
    spec = KINDS.get(kind, KINDS["altro"])
    if spec.days_setting is None:
        return None
    if (kind == "rettifica" and invoice is not None
            and (invoice.period_end - invoice.period_start).days >= 119):
        return _setting("CASE_DAYS_BILLING_CORRECTION_FOUR_MONTHLY")
    return _setting(spec.days_setting)


def due_date(kind, received_at, days=None):
    """The last calendar day (Europe/Rome) for the answer: the day received plus the
    type's days; None for a type without deadline."""
    days = standard_days(kind) if days is None else days
    if days is None:
        return None
    return rome_day(received_at) + datetime.timedelta(days=days)


def indemnity(kind, received_at, due_on, answered_at=None, today=None):
    """The automatic indemnity (EUR) a late answer earns: the base amount up to twice
    the standard days, the double amount up to three times, then the triple. Without
    an answer yet, what it would be today. 0 when on time or without indemnity."""
    spec = KINDS.get(kind, KINDS["altro"])
    if not spec.indemnity or due_on is None:
        return 0
    answered = rome_day(answered_at) if answered_at else (today or rome_day(utcnow()))
    if answered <= due_on:
        return 0
    received = rome_day(received_at)
    standard = (due_on - received).days
    taken = (answered - received).days
    if taken <= 2 * standard:
        return _setting("CASE_INDEMNITY_BASE_EUR")
    if taken <= 3 * standard:
        return _setting("CASE_INDEMNITY_DOUBLE_EUR")
    return _setting("CASE_INDEMNITY_TRIPLE_EUR")


def days_left(ticket, today=None):
    """Calendar days until the deadline (negative: overdue); None without one or
    once answered."""
    if ticket.due_on is None or ticket.answered_at is not None:
        return None
    return (ticket.due_on - (today or rome_day(utcnow()))).days


def deadline_state(ticket, today=None):
    """"answered", "overdue", "due-soon", "open" or "none" (no deadline)."""
    if ticket.due_on is None:
        return "none"
    if ticket.answered_at is not None:
        return "answered"
    left = days_left(ticket, today)
    if left < 0:
        return "overdue"
    if left <= _setting("CASE_DUE_SOON_DAYS"):
        return "due-soon"
    return "open"


def lateness(ticket, today=None):
    """What the customer is told of the deadline, by the same rules as the back-office:
    ("late", 0) while the deadline has passed without an answer; ("answered-late",
    amount) once answered after it, amount being the automatic indemnity (0 for a type
    without one); (None, 0) otherwise."""
    state = deadline_state(ticket, today)
    if state == "overdue":
        return "late", 0
    if state == "answered" and rome_day(ticket.answered_at) > ticket.due_on:
        return "answered-late", indemnity(ticket.kind, ticket.received_at, ticket.due_on,
                                          ticket.answered_at)
    return None, 0


def case_code(ticket_id, received_at, prefix="CP"):
    """The codice pratica: prefix, year received (Rome) and the number."""
    return f"{prefix}-{rome_day(received_at).year}-{ticket_id:06d}"


def kind_label(kind):
    return KINDS.get(kind, KINDS["altro"]).label


def visible_messages(ticket):
    """The thread as the customer sees it: internal notes are never selected."""
    return (TicketMessage
            .select()
            .where((TicketMessage.ticket == ticket) & ~TicketMessage.internal)
            .order_by(TicketMessage.created_at, TicketMessage.id))


def all_messages(ticket):
    """The thread as the back-office sees it, internal notes included."""
    return (TicketMessage
            .select(TicketMessage, Operator)
            .join(Operator, JOIN.LEFT_OUTER)
            .where(TicketMessage.ticket == ticket)
            .order_by(TicketMessage.created_at, TicketMessage.id))


def visible_message_for_customer(message_id, customer):
    """A message with an attachment the customer may download: on one of the
    customer's tickets and not an internal note; else None."""
    return (TicketMessage
            .select()
            .join(Ticket)
            .where((TicketMessage.id == message_id)
                   & (Ticket.customer == customer)
                   & ~TicketMessage.internal
                   & TicketMessage.attachment_path.is_null(False))
            .first())


QUOTA_REACHED = _l("Hai esaurito lo spazio per gli allegati ({limit} MB in tutto, ne hai usati "
                   "{used}): invia il messaggio senza allegato, oppure contatta il servizio "
                   "clienti per mandarci il file in altro modo.")


def stored_attachment_bytes(customer):
    """The bytes of every file the customer attached to their tickets (the files on
    disk are the measure: the rows keep no size)."""
    paths = (TicketMessage
             .select(TicketMessage.attachment_path)
             .join(Ticket)
             .where((Ticket.customer == customer)
                    & TicketMessage.from_customer
                    & TicketMessage.attachment_path.is_null(False))
             .tuples())
    total = 0
    for (relative,) in paths:
        path = attachments.resolve(current_app.config["FILES_DIR"], relative)
        if path is not None:
            total += path.stat().st_size
    return total


def attachment_quota_error(customer, upload):
    """The message for an upload that would take the customer beyond
    ATTACHMENT_QUOTA_MB, else None."""
    if upload is None:
        return None
    limit_mb = current_app.config["ATTACHMENT_QUOTA_MB"]
    used = stored_attachment_bytes(customer)
    if used + len(upload.data) <= limit_mb * 1024 * 1024:
        return None
    used_mb = f"{used / (1024 * 1024):.1f}".replace(".", ",")
    return QUOTA_REACHED.format(limit=limit_mb, used=f"{used_mb} MB")


def _add_message(ticket, upload=None, ticket_changes=None, submission=None, **fields):
    """Store a message (and its attachment) and update the ticket, all or nothing: a
    failed commit leaves no file behind. A submission (portal/submissions.py) is
    recorded in the same transaction, its result the ticket."""
    stored = None
    try:
        with db.atomic():
            message = TicketMessage.create(ticket=ticket, **fields)
            if upload is not None:
                stored = attachments.store(current_app.config["FILES_DIR"],
                                           f"tickets/{ticket.id}", upload)
                message.attachment_path = stored
                message.attachment_name = upload.name
                message.attachment_type = upload.content_type
                message.save()
            if ticket_changes:
                Ticket.update(**ticket_changes).where(Ticket.id == ticket.id).execute()
            if submission is not None:
                submission.record(ticket)
    except Exception:
        if stored:
            attachments.remove(current_app.config["FILES_DIR"], stored)
        raise
    return message


def open_ticket(customer, supply_point, kind, subject, body, upload=None, submission=None,
                details=None, invoice=None, received_at=None, code=None):
    """A new case with its first message: type, codice pratica, received now, the
    type's deadline; the back-office mailbox is told and the customer gets the receipt
    (both queued in the same transaction)."""
    received_at = received_at or utcnow()
    with db.atomic():
        ticket = Ticket.create(customer=customer, supply_point=supply_point, kind=kind,
                               category=KINDS[kind].category, subject=subject, code=code,
                               received_at=received_at, details=details or {},
                               due_on=due_date(kind, received_at,
                                               standard_days(kind, invoice)))
        _add_message(ticket, upload, submission=submission, from_customer=True, body=body)
        _notify_new_ticket(ticket, customer)
        _send_receipt(ticket, customer, customer.email)
    return ticket


def _send_receipt(ticket, customer, recipient):
    """The receipt e-mail (codice pratica, date received, type, text, deadline)."""
    if not recipient:
        return False
    first = (TicketMessage.select().where(TicketMessage.ticket == ticket)
             .order_by(TicketMessage.id).first())
    queue_mail(recipient, _l("Ricevuta della pratica %(code)s", code=ticket.code),
               "ticket_receipt", kind="ticket_receipt", customer=customer, ticket=ticket,
               customer_name=customer.name, kind_label=kind_label(ticket.kind),
               received=ticket.received_at, due_on=ticket.due_on,
               body=first.body if first else "",
               attachment_name=first.attachment_name if first else None,
               details=detail_lines(ticket))
    return True


DETAIL_LABELS = {
    "invoice_number": _l("Fattura"), "instalments": _l("Numero di rate"),
    "holder_name": _l("Nuovo intestatario"), "holder_tax_code": _l("Codice fiscale / partita IVA"),
    "holder_email": _l("E-mail del nuovo intestatario"), "start_date": _l("Data di decorrenza"),
    "end_date": _l("Data di chiusura"), "final_reading": _l("Lettura finale"),
    "postal_address": _l("Nuovo indirizzo postale"), "matched": _l("Abbinamento"),
}


def detail_lines(ticket):
    """The type's fields as (label, value) pairs, in a stable order."""
    details = ticket.details or {}
    return [(DETAIL_LABELS[key], str(details[key])) for key in DETAIL_LABELS
            if details.get(key) not in (None, "")]


def receipt_pdf(ticket):
    """The receipt as a one-page PDF (fpdf2, core fonts: text outside Latin-1 becomes ?)."""
    from fpdf import FPDF, XPos, YPos

    def text(value):
        return str(value).encode("latin-1", "replace").decode("latin-1")

    first = (TicketMessage.select().where(TicketMessage.ticket == ticket)
             .order_by(TicketMessage.id).first())
    pdf = FPDF(format="A4")
    pdf.set_compression(False)  # a page of text: readable by search tools and tests
    from flask_babel import gettext as _
    pdf.set_title(text(_("Ricevuta della pratica %(code)s", code=ticket.code)))
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, text(current_app.config["COMPANY_NAME"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 12)
    pdf.cell(0, 8, text(_("Ricevuta della pratica %(code)s", code=ticket.code)),
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    # Dates as on the pages, in the reader's language (Rome time).
    rows = [(_("Codice pratica"), ticket.code),
            (_("Ricevuta il"), local_datetime_text(ticket.received_at)),
            (_("Tipo"), kind_label(ticket.kind)),
            (_("Oggetto"), ticket.subject),
            (_("Risposta entro il"), local_date(ticket.due_on) if ticket.due_on
             else _("nessun termine previsto"))]
    rows += [(str(label), value) for label, value in detail_lines(ticket)]
    if first is not None and first.attachment_name:
        rows.append((_("Allegato"), first.attachment_name))
    for label, value in rows:
        pdf.set_font("helvetica", "B", 10)
        pdf.cell(55, 6, text(label))
        pdf.set_font("helvetica", "", 10)
        pdf.multi_cell(0, 6, text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 10)
    pdf.cell(0, 6, text(_("Testo inviato")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 10)
    pdf.multi_cell(0, 5, text(first.body if first else ""), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def retype(ticket, kind):
    """An operator changes the case's type: the deadline is recomputed from the day
    received. Returns the old type."""
    old = ticket.kind
    invoice_id = (ticket.details or {}).get("invoice_id")
    invoice = (Invoice.get_or_none((Invoice.id == invoice_id)
                                   & (Invoice.customer == ticket.customer_id))
               if invoice_id else None)
    Ticket.update(kind=kind, category=KINDS[kind].category,
                  due_on=due_date(kind, ticket.received_at, standard_days(kind, invoice)),
                  updated_at=utcnow()).where(Ticket.id == ticket.id).execute()
    return old


def customer_reply(ticket, body, upload=None, submission=None):
    """The customer writes again; a closed ticket opens again."""
    status = Ticket.OPEN if ticket.status == Ticket.CLOSED else ticket.status
    return _add_message(ticket, upload, submission=submission, from_customer=True, body=body,
                        ticket_changes=dict(status=status, updated_at=utcnow()))


def close_by_customer(ticket):
    """The customer closes the ticket (a reply opens it again)."""
    return (Ticket
            .update(status=Ticket.CLOSED, updated_at=utcnow())
            .where(Ticket.id == ticket.id)
            .execute())


def operator_reply(ticket, operator, body, status, upload=None, submission=None, outcome=""):
    """The utility answers and sets the status: the first answer is the case's answer
    date (the reasoned answer of TIQV); the customer's notice is queued in the same
    transaction.

    Returns (message, notified): notified is False when the customer has no e-mail."""
    with db.atomic():
        changes = dict(status=status, updated_at=utcnow())
        if outcome:
            changes["outcome"] = outcome
        message = _add_message(ticket, upload, submission=submission, from_customer=False,
                               operator=operator, body=body, ticket_changes=changes)
        (Ticket.update(answered_at=message.created_at)
         .where((Ticket.id == ticket.id) & Ticket.answered_at.is_null()).execute())
        notified = _notify_answer(Ticket.get_by_id(ticket.id))
    return message, notified


def add_note(ticket, operator, body, submission=None):
    """An internal note: the customer never sees it, so the ticket's activity date
    (which orders the customer's list) does not move."""
    return _add_message(ticket, submission=submission, from_customer=False, operator=operator,
                        body=body, internal=True)


def set_status(ticket, status):
    return (Ticket
            .update(status=status, updated_at=utcnow())
            .where(Ticket.id == ticket.id)
            .execute())


def _notify_new_ticket(ticket, customer):
    recipient = current_app.config.get("TICKET_NOTIFY_EMAIL")
    if not recipient:
        return False
    queue_mail(recipient, f"Nuova pratica {ticket.code}: {ticket.subject}", "ticket_new",
               kind="ticket_new", customer=customer, language="it", ticket=ticket,
               customer_code=customer.code, customer_name=customer.name)
    return True


def _notify_answer(ticket):
    customer = Customer.get_by_id(ticket.customer_id)
    if not customer.email:
        log.info("ticket %s: customer without e-mail, answer not notified", ticket.id)
        return False
    # Through the customer's notice preferences, with its unsubscribe link.
    return notices.ticket_answered(customer, ticket)


def inbox(status=None, category=None, search=None, kind=None, queue=None):
    """Cases for the back-office, filtered. Ordered by time left: unanswered cases
    with a deadline first, the nearest (or most overdue) first; then the rest, newest
    activity first. queue "overdue" / "due-soon" keeps only those."""
    today = rome_day(utcnow())
    waiting = Ticket.answered_at.is_null() & Ticket.due_on.is_null(False)
    query = (Ticket
             .select(Ticket, Customer)
             .join(Customer)
             .order_by(Case(None, [(waiting, 0)], 1), Case(None, [(waiting, Ticket.due_on)], None),
                       Ticket.updated_at.desc(), Ticket.id.desc()))
    if status:
        query = query.where(Ticket.status == status)
    if category:
        query = query.where(Ticket.category == category)
    if kind:
        query = query.where(Ticket.kind == kind)
    if queue == "overdue":
        query = query.where(waiting & (Ticket.due_on < today))
    elif queue == "due-soon":
        query = query.where(waiting & (Ticket.due_on >= today) & (
            Ticket.due_on <= today + datetime.timedelta(days=_setting("CASE_DUE_SOON_DAYS"))))
    term = (search or "").strip()
    if term:
        condition = (Ticket.subject.contains(term)
                     | Customer.name.contains(term)
                     | (Customer.code == term)
                     | (Customer.tax_code == term.upper())
                     | (Ticket.code == term.upper()))
        number = term.lstrip("nN. ")
        if number.isdigit() and len(number) < 10:
            condition |= Ticket.id == int(number)
        query = query.where(condition)
    return query


REGISTER_COLUMNS = ("codice_pratica", "tipo", "codice_cliente", "cliente", "ricevuta_il",
                    "risposta_entro", "risposta_il", "giorni_impiegati", "esito", "stato",
                    "indennizzo_eur")


def register_csv(since=None, until=None):
    """The register of cases for regulatory reporting (CSV, `;`, UTF-8): cases received
    from `since` to `until` (Rome days, inclusive), oldest first."""
    query = (Ticket.select(Ticket, Customer).join(Customer)
             .order_by(Ticket.received_at, Ticket.id))
    lines = [CSV_BOM + csv_line(REGISTER_COLUMNS)]
    for ticket in query.iterator():
        received = rome_day(ticket.received_at)
        if (since and received < since) or (until and received > until):
            continue
        answered = rome_day(ticket.answered_at) if ticket.answered_at else None
        owed = (indemnity(ticket.kind, ticket.received_at, ticket.due_on, ticket.answered_at)
                if answered else "")
        lines.append(csv_line([
            csv_cell(ticket.code), csv_cell(ticket.kind), csv_cell(ticket.customer.code),
            csv_cell(ticket.customer.name), received.isoformat(),
            ticket.due_on.isoformat() if ticket.due_on else "",
            answered.isoformat() if answered else "",
            str((answered - received).days) if answered else "", csv_cell(ticket.outcome),
            csv_cell(ticket.status), str(owed)]))
    return "".join(lines)


# --- The complaint without login ------------------------------------------------------

def _normal(value):
    """Compare names and codes without case, accents, punctuation or spacing."""
    text = unicodedata.normalize("NFKD", value or "")
    return "".join(char for char in text.upper() if char.isalnum())


def match_customer(name, customer_code, point_code):
    """The customer the bill data name: the same name (any case, accents, spaces)
    and the customer code or a PDR/POD / point code of theirs; else None."""
    candidates = []
    code = (customer_code or "").strip()
    if code.isdigit() and len(code) == 6:
        candidates.extend(list(Customer.select().where(Customer.code == code)))
    point = "".join((point_code or "").split()).upper()
    if point and len(point) <= 16:
        candidates.extend(list(Customer.select().join(SupplyPoint)
                               .where((SupplyPoint.pdr_pod == point) | (SupplyPoint.code == point))))
    for customer in candidates:
        if _normal(customer.name) == _normal(name):
            return customer
    return None


def submit_public(name, customer_code, point_code, address, email, subject, body):
    """Store a complaint without login and mail the confirmation link to `email`;
    nothing is a case until the link is used."""
    hours = _setting("PUBLIC_COMPLAINT_CONFIRM_HOURS")
    with db.atomic():
        # The same complaint sent again (a double click, a retry) while its link is
        # pending is the first one: no second row, no second e-mail.
        repeated = (PublicComplaint.select()
                    .where((PublicComplaint.email == email) & (PublicComplaint.subject == subject)
                           & (PublicComplaint.body == body)
                           & (PublicComplaint.status == PublicComplaint.PENDING)
                           & (PublicComplaint.expires_at > utcnow()))
                    .first())
        if repeated is not None:
            return repeated
        complaint = PublicComplaint.create(
            name=name, customer_code=customer_code, point_code=point_code, address=address,
            email=email, subject=subject, body=body,
            expires_at=utcnow() + datetime.timedelta(hours=hours))
        link = (current_app.config["BASE_URL"].rstrip("/")
                + f"/ticket/reclamo/conferma/{_public_serializer().dumps(complaint.id)}")
        queue_mail(email, _l("Conferma il tuo reclamo"), "complaint_confirm",
                   kind="complaint_confirm", name=name, subject_text=subject, link=link,
                   hours=hours)
    return complaint


def public_for_token(token):
    """The pending, unexpired complaint a link names; None for anything else."""
    try:
        complaint_id = _public_serializer().loads(
            token, max_age=_setting("PUBLIC_COMPLAINT_CONFIRM_HOURS") * 3600)
    except BadSignature:
        return None
    if not isinstance(complaint_id, int):
        return None
    return (PublicComplaint.select()
            .where((PublicComplaint.id == complaint_id)
                   & (PublicComplaint.status == PublicComplaint.PENDING)
                   & (PublicComplaint.expires_at > utcnow()))
            .first())


def confirm_public(complaint):
    """The address confirmed: the complaint is received now and gets its codice
    pratica; it becomes a case of the customer the data name, else waits for an
    operator. Once only: returns the complaint, or None if the link was used."""
    now = utcnow()
    with db.atomic():
        used = (PublicComplaint.update(status=PublicComplaint.UNMATCHED, confirmed_at=now,
                                       code=case_code(complaint.id, now, "CW"))
                .where((PublicComplaint.id == complaint.id)
                       & (PublicComplaint.status == PublicComplaint.PENDING))
                .execute())
        if not used:
            return None
        complaint = PublicComplaint.get_by_id(complaint.id)
        customer = match_customer(complaint.name, complaint.customer_code, complaint.point_code)
        if customer is not None:
            attach_public(complaint, customer)
        else:
            queue_mail(complaint.email, _l("Ricevuta della pratica %(code)s", code=complaint.code),
                       "complaint_receipt", kind="complaint_receipt", complaint=complaint,
                       kind_label=kind_label("reclamo"), received=complaint.confirmed_at,
                       due_on=due_date("reclamo", complaint.confirmed_at))
    return PublicComplaint.get_by_id(complaint.id)


def attach_public(complaint, customer):
    """The complaint becomes a case (reclamo) of `customer`, received when confirmed,
    with the same codice pratica; the receipt goes to the address that confirmed.
    None when it was matched already."""
    with db.atomic() as transaction:
        # Once only (two operators matching at the same moment make one case).
        claimed = (PublicComplaint.update(status=PublicComplaint.MATCHED)
                   .where((PublicComplaint.id == complaint.id)
                          & (PublicComplaint.status == PublicComplaint.UNMATCHED))
                   .execute())
        if not claimed:
            transaction.rollback()
            return None
        ticket = Ticket.create(customer=customer, kind="reclamo", category="Altro",
                               subject=complaint.subject, received_at=complaint.confirmed_at,
                               code=complaint.code,
                               details={"matched": complaint.address or complaint.email},
                               due_on=due_date("reclamo", complaint.confirmed_at))
        TicketMessage.create(ticket=ticket, body=complaint.body, from_customer=True,
                             created_at=complaint.confirmed_at)
        PublicComplaint.update(ticket=ticket).where(PublicComplaint.id == complaint.id).execute()
        _notify_new_ticket(ticket, customer)
        _send_receipt(ticket, customer, complaint.email)
    return ticket


def unmatched_complaints():
    return (PublicComplaint.select()
            .where(PublicComplaint.status == PublicComplaint.UNMATCHED)
            .order_by(PublicComplaint.confirmed_at))


def _public_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="public-complaint")


def awaiting_answer(tickets):
    """Ids of the tickets whose last visible message is the customer's."""
    ids = [ticket.id for ticket in tickets]
    if not ids:
        return set()
    latest = (TicketMessage
              .select(fn.MAX(TicketMessage.id))
              .where(TicketMessage.ticket.in_(ids) & ~TicketMessage.internal)
              .group_by(TicketMessage.ticket))
    return {message.ticket_id
            for message in TicketMessage.select(TicketMessage.ticket, TicketMessage.from_customer)
                                        .where(TicketMessage.id.in_(latest))
            if message.from_customer}
