"""Tickets: opening one, replies from either side, internal notes, status changes, and
the e-mails they send."""
import logging

from flask import current_app
from flask_babel import lazy_gettext as _l
from peewee import JOIN, fn

from portal import attachments
from portal import notices
from portal.mail import queue_mail
from models import Customer, Operator, Ticket, TicketMessage, db, utcnow

log = logging.getLogger("area_clienti.tickets")

STATUSES = (Ticket.OPEN, Ticket.IN_PROGRESS, Ticket.CLOSED)


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


def open_ticket(customer, supply_point, category, subject, body, upload=None, submission=None):
    """A new ticket with its first message; the back-office mailbox is told (the
    notice is queued in the same transaction)."""
    with db.atomic():
        ticket = Ticket.create(customer=customer, supply_point=supply_point,
                               category=category, subject=subject)
        _add_message(ticket, upload, submission=submission, from_customer=True, body=body)
        _notify_new_ticket(ticket, customer)
    return ticket


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


def operator_reply(ticket, operator, body, status, upload=None, submission=None):
    """The utility answers and sets the status; the customer's notice is queued in the
    same transaction.

    Returns (message, notified): notified is False when the customer has no e-mail."""
    with db.atomic():
        message = _add_message(ticket, upload, submission=submission, from_customer=False,
                               operator=operator, body=body,
                               ticket_changes=dict(status=status, updated_at=utcnow()))
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
    queue_mail(recipient, f"Nuovo ticket n. {ticket.id}: {ticket.subject}", "ticket_new",
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


def inbox(status=None, category=None, search=None):
    """Tickets for the back-office, newest activity first, filtered."""
    query = (Ticket
             .select(Ticket, Customer)
             .join(Customer)
             .order_by(Ticket.updated_at.desc(), Ticket.id.desc()))
    if status:
        query = query.where(Ticket.status == status)
    if category:
        query = query.where(Ticket.category == category)
    term = (search or "").strip()
    if term:
        condition = (Ticket.subject.contains(term)
                     | Customer.name.contains(term)
                     | (Customer.code == term)
                     | (Customer.tax_code == term.upper()))
        number = term.lstrip("nN. ")
        if number.isdigit() and len(number) < 10:
            condition |= Ticket.id == int(number)
        query = query.where(condition)
    return query


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
