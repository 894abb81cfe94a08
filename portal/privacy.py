"""GDPR duties: a customer's copy of their own data (Art. 15/20) and the deletion of
records kept longer than needed (Art. 5(1)(e))."""
import datetime
from decimal import Decimal
from pathlib import Path

from models import (AuditLog, BilledConsumption, Document, FormSubmission, Invoice, Notice,
                    NoticeOptOut, OutgoingMail, RegistrationRequest, SelfReading, SupplyPoint,
                    Ticket, TicketMessage, db, held_days, utcnow)
from portal import notices

# Fields of the customer record that are secrets or bookkeeping, never exported.
_CUSTOMER_FIELDS = ("code", "name", "tax_code", "is_company", "address", "phone", "fax",
                    "email", "registered_at", "last_login_at", "previous_login_at", "paperless",
                    "paperless_changed_at")


def _plain(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(query, *fields):
    return [{field.name: _plain(value) for field, value in zip(fields, row)}
            for row in query.select(*fields).tuples()]


def personal_data(customer):
    """Everything the portal holds about `customer`, as JSON-ready data. Interval
    measurements are left to the CSV download of Misure elettriche (their size)."""
    points = SupplyPoint.of_customer(customer.id)
    wanted = set(notices.wanted_kinds(customer))
    return {
        "customer": {name: _plain(getattr(customer, name)) for name in _CUSTOMER_FIELDS},
        "supply_points": [
            {"code": point.code, "commodity": point.commodity, "pdr_pod": point.pdr_pod,
             "address": point.address,
             "held_from": _plain(point.held_from), "held_until": _plain(point.held_until),
             # Once the point passed on, what is on file describes the new holder's supply.
             **({} if point.is_ceased else {
                 "meter_serial": point.meter_serial, "has_corrector": point.has_corrector,
                 "technical_data": point.technical_data, "contract_data": point.contract_data}),
             "invoices": _rows(Invoice.for_supply_point(point, customer), Invoice.number, Invoice.date,
                               Invoice.period_start, Invoice.period_end, Invoice.amount,
                               Invoice.due_date, Invoice.paid),
             "billed_consumption": _rows(
                 BilledConsumption.for_supply_point(point, *held_days(point)),
                 BilledConsumption.period_start,
                 BilledConsumption.period_end, BilledConsumption.energy_f1,
                 BilledConsumption.energy_f2, BilledConsumption.energy_f3,
                 BilledConsumption.energy_total, BilledConsumption.max_power,
                 BilledConsumption.unit, BilledConsumption.reading_kind),
             "self_readings": _rows(
                 SelfReading.for_supply_point(point, customer), SelfReading.reading_date,
                 SelfReading.meter_reading, SelfReading.corrector_reading, SelfReading.status,
                 SelfReading.submitted_at, SelfReading.outcome, SelfReading.outcome_reason,
                 SelfReading.channel)}
            for point in points],
        "tickets": [
            {"number": ticket.id, "subject": ticket.subject, "category": ticket.category,
             "status": ticket.status, "created_at": _plain(ticket.created_at),
             "case_code": ticket.code, "case_type": ticket.kind,
             "received_at": _plain(ticket.received_at), "due_on": _plain(ticket.due_on),
             "answered_at": _plain(ticket.answered_at), "details": ticket.details,
             "messages": _rows(TicketMessage.select()
                               .where((TicketMessage.ticket == ticket) & ~TicketMessage.internal)
                               .order_by(TicketMessage.created_at),
                               TicketMessage.created_at, TicketMessage.from_customer,
                               TicketMessage.body, TicketMessage.attachment_name)}
            for ticket in Ticket.for_customer(customer)],
        "documents": _rows(Document.for_customer(customer), Document.title, Document.date),
        "security_events": _rows(AuditLog.select().where(AuditLog.customer == customer)
                                 .order_by(AuditLog.at), AuditLog.at, AuditLog.event, AuditLog.ip),
        # Every kind with its name as on the preferences page and whether it is on: what
        # was chosen reads on its own (notices_turned_off: the same, as stored).
        "notice_choices": [{"kind": kind, "name": str(name), "on": kind in wanted}
                           for kind, (name, _) in notices.KINDS.items()],
        "notices_turned_off": [row.kind for row in NoticeOptOut.select(NoticeOptOut.kind)
                               .where(NoticeOptOut.customer == customer)
                               .order_by(NoticeOptOut.kind)],
        "notices_given": _rows(Notice.select().where(Notice.customer == customer)
                               .order_by(Notice.created_at), Notice.created_at, Notice.kind,
                               Notice.about),
    }


def purge_expired(audit_days, mail_days, export_days, export_dir, token_days=30, now=None):
    """Delete audit rows, mail records (with registration requests and the records of
    notices given), the tokens of creating forms and acquisition export files older
    than their retention; return what went, per kind."""
    now = now or utcnow()
    with db.atomic():
        audit = AuditLog.delete().where(
            AuditLog.at < now - datetime.timedelta(days=audit_days)).execute()
        mail_cutoff = now - datetime.timedelta(days=mail_days)
        # Mail still waiting for the sender is never dropped, however old.
        mail = OutgoingMail.delete().where(
            (OutgoingMail.created_at < mail_cutoff)
            & OutgoingMail.status.not_in([OutgoingMail.QUEUED, OutgoingMail.SENDING])).execute()
        # Addresses typed at registration (a stranger's, perhaps) go with the mail records.
        requests = RegistrationRequest.delete().where(
            RegistrationRequest.created_at < mail_cutoff).execute()
        # A notice's record only has to outlive the days in which the same notice could
        # be due again (NOTICE_CATCH_UP_DAYS, NOTICE_DUE_DAYS: days, not a year).
        notices = Notice.delete().where(Notice.created_at < mail_cutoff).execute()
        tokens = FormSubmission.delete().where(
            FormSubmission.created_at < now - datetime.timedelta(days=token_days)).execute()
    cutoff = (now - datetime.timedelta(days=export_days)).replace(
        tzinfo=datetime.timezone.utc).timestamp()
    exports = 0
    for path in Path(export_dir).glob("readings-*.csv"):
        if path.stat().st_mtime < cutoff:
            path.unlink()
            exports += 1
    return {"audit rows": audit, "mail records": mail, "export files": exports,
            "registration requests": requests, "form tokens": tokens, "notice records": notices}
