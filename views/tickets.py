"""Ticket: the customer's requests to the utility and their threads."""
import unicodedata

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from peewee import JOIN
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from models import SupplyPoint, Ticket
from portal import attachments, tickets
from views import (CreatingForm, Pager, create_once, customer_required, customer_supply_points,
                   htmx_redirect, is_htmx, limiter, render_page, selected_supply_point)
from views.downloads import send_ticket_attachment

bp = Blueprint("tickets", __name__, url_prefix="/ticket")

PER_PAGE = 10
REQUIRED = _l("Campo obbligatorio.")
MAX_MESSAGE = 5000
ALREADY_SENT = _l("La richiesta era già stata inviata ed è stata registrata una volta sola: "
                  "eccola.")


def clean_text(value):
    """No NUL characters (PostgreSQL refuses them) and no surrounding blanks."""
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


def single_line(value):
    """One line: control characters (line breaks included) become single spaces, so a
    subject can also head an e-mail."""
    if not isinstance(value, str):
        return value
    return " ".join("".join(" " if unicodedata.category(char)[0] == "C" else char
                            for char in value).split())


class MessageForm(CreatingForm):
    """A message with an optional attachment, checked by its content."""

    message = TextAreaField(_l("Messaggio"), [DataRequired(REQUIRED), Length(
        max=MAX_MESSAGE, message=_l("Il messaggio può avere al massimo %(count)s caratteri.",
                                    count=MAX_MESSAGE))],
        filters=[clean_text])
    attachment = FileField(_l("Allegato (facoltativo)"))
    upload = None

    def validate_attachment(self, field):
        if field.data:
            try:
                self.upload = attachments.check_upload(field.data)
            except attachments.AttachmentError as error:
                raise ValidationError(str(error)) from None


class TicketForm(MessageForm):
    supply_point = SelectField(_l("Punto di fornitura"), validate_choice=False)
    category = SelectField(_l("Categoria"), validate_choice=False,
                           choices=[SelectChoice("", _l("Scegli la categoria"))]
                           + [SelectChoice(category, _l(category))
                              for category in Ticket.CATEGORIES])
    subject = StringField(_l("Oggetto"), [DataRequired(REQUIRED), Length(
        max=150, message=_l("L'oggetto può avere al massimo 150 caratteri."))],
        filters=[single_line])

    def validate_supply_point(self, field):
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_("Scegli uno dei tuoi punti di fornitura."))

    def validate_category(self, field):
        if field.data not in Ticket.CATEGORIES:
            raise ValidationError(_("Scegli una categoria dall'elenco."))


# New tickets and replies share one budget per customer: each mails the utility and may
# store a file. Refused forms (422) do not count.
message_limit = limiter.shared_limit(
    lambda: current_app.config["TICKET_MESSAGE_LIMIT"], scope="ticket-messages",
    methods=["POST"], key_func=lambda: f"ticket-messages:{getattr(current_user, 'id', '')}",
    deduct_when=lambda response: response.status_code < 400)


def _within_quota(form):
    """False (with the message beside the file field) when the attachment would take
    the customer beyond their storage quota."""
    error = tickets.attachment_quota_error(current_user.id, form.upload)
    if error:
        form.attachment.errors.append(error)
    return error is None


def _own_ticket(ticket_id):
    """The customer's ticket with this id; anybody else's is 404."""
    ticket = Ticket.get_for_customer(ticket_id, current_user.id)
    if ticket is None:
        abort(404)
    return ticket


@bp.get("")
@customer_required
def index():
    """Ticket: the customer's tickets, newest activity first."""
    query = (Ticket.for_customer(current_user.id)
             .select_extend(SupplyPoint.code)
             .join(SupplyPoint, JOIN.LEFT_OUTER))
    return render_page("tickets/index.html", pager=Pager(query, PER_PAGE))


@bp.get("/nuovo")
@bp.post("/nuovo")
@customer_required
@message_limit
def new():
    """Nuovo ticket: supply point, category, subject, message and an attachment."""
    form = TicketForm()
    points = customer_supply_points()
    form.supply_point.choices = ([SelectChoice(point.code, point.label) for point in points]
                                 or [SelectChoice("", _("Nessun punto di fornitura"))])
    if request.method == "GET" and points:
        form.supply_point.data = selected_supply_point().code
    if form.validate_on_submit() and _within_quota(form):
        supply_point = (SupplyPoint.get_for_customer(form.supply_point.data, current_user.id)
                        if form.supply_point.data else None)
        ticket, first_result = create_once(form, lambda submission: tickets.open_ticket(
            current_user._get_current_object(), supply_point, form.category.data,
            form.subject.data, form.message.data, form.upload, submission), _thread_url)
        if first_result:
            flash(str(ALREADY_SENT), "success")
            return htmx_redirect(first_result)
        flash(_("Il ticket n. %(number)s è stato aperto: ti risponderemo qui e ti avviseremo "
                "per e-mail.", number=ticket.id), "success")
        return htmx_redirect(_thread_url(ticket))
    status = 422 if request.method == "POST" else 200
    return render_page("tickets/new.html", form=form), status


def _thread_url(ticket):
    return url_for("tickets.detail", ticket_id=ticket.id)


def _render_thread(ticket, form=None, notice=None, status=200):
    return render_page("tickets/detail.html", ticket=ticket,
                       messages=tickets.visible_messages(ticket),
                       form=form or MessageForm(formdata=None), notice=notice), status


@bp.get("/<int:ticket_id>")
@customer_required
def detail(ticket_id):
    """The thread of one ticket, with the reply form."""
    return _render_thread(_own_ticket(ticket_id))


@bp.post("/<int:ticket_id>/rispondi")
@customer_required
@message_limit
def reply(ticket_id):
    """Reply to the utility; replying to a closed ticket opens it again."""
    ticket = _own_ticket(ticket_id)
    form = MessageForm()
    if not (form.validate_on_submit() and _within_quota(form)):
        return _render_thread(ticket, form, status=422)
    reopened = ticket.status == Ticket.CLOSED
    _reply, first_result = create_once(form, lambda submission: tickets.customer_reply(
        ticket, form.message.data, form.upload, submission), _thread_url)
    if first_result:
        notice = str(ALREADY_SENT)
    elif reopened:
        notice = _("Messaggio inviato: il ticket è stato riaperto.")
    else:
        notice = _("Messaggio inviato.")
    if not is_htmx():
        flash(notice, "success")
        return redirect(url_for("tickets.detail", ticket_id=ticket.id), 303)
    return _render_thread(_own_ticket(ticket_id), notice=notice)


@bp.post("/<int:ticket_id>/chiudi")
@customer_required
def close(ticket_id):
    """Close the ticket (a later reply opens it again)."""
    ticket = _own_ticket(ticket_id)
    tickets.close_by_customer(ticket)
    notice = _("Il ticket è stato chiuso.")
    if not is_htmx():
        flash(notice, "success")
        return redirect(url_for("tickets.detail", ticket_id=ticket.id), 303)
    return _render_thread(_own_ticket(ticket_id), notice=notice)


@bp.get("/<int:ticket_id>/allegati/<int:message_id>")
@customer_required
def attachment(ticket_id, message_id):
    """Download an attachment of one of the customer's tickets (never of a note)."""
    message = tickets.visible_message_for_customer(message_id, current_user.id)
    if message is None or message.ticket_id != ticket_id:
        abort(404)
    return send_ticket_attachment(message)
