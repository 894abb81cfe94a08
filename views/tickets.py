"""Ticket: the customer's cases (complaints and requests), their receipts and threads,
and the complaint without login."""
import datetime
import unicodedata

from flask import (Blueprint, abort, current_app, flash, make_response, redirect, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from peewee import JOIN
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from models import Invoice, SupplyPoint, Ticket, rome_now
from portal import attachments, tickets
from portal.formatting import local_date, local_money
from views import (CreatingForm, Pager, create_once, customer_required, customer_supply_points,
                   htmx_redirect, is_htmx, limiter, or_404, render_page, selected_supply_point)
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


def parse_day(text):
    """dd/mm/yyyy (or yyyy-mm-dd, as a date input sends) -> date; None when it is not one."""
    text = (text or "").strip()
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            pass
    return None


class TicketForm(MessageForm):
    """A case: its type decides which of the fields below it asks for and checks."""

    kind = HiddenField()
    supply_point = SelectField(_l("Punto di fornitura"), validate_choice=False)
    subject = StringField(_l("Oggetto"), [DataRequired(REQUIRED), Length(
        max=150, message=_l("L'oggetto può avere al massimo 150 caratteri."))],
        filters=[single_line])
    invoice = SelectField(_l("Fattura"), validate_choice=False)
    instalments = StringField(_l("Numero di rate"), filters=[clean_text])
    holder_name = StringField(_l("Nome e cognome o ragione sociale del nuovo intestatario"),
                              filters=[single_line])
    holder_tax_code = StringField(_l("Codice fiscale o partita IVA del nuovo intestatario"),
                                  filters=[single_line])
    holder_email = StringField(_l("E-mail del nuovo intestatario"), filters=[single_line])
    start_date = StringField(_l("Data di decorrenza (gg/mm/aaaa)"), filters=[clean_text])
    end_date = StringField(_l("Data di chiusura (gg/mm/aaaa)"), filters=[clean_text])
    final_reading = StringField(_l("Lettura finale del contatore"), filters=[clean_text])
    postal_address = TextAreaField(_l("Nuovo indirizzo postale (via, numero, CAP, comune, provincia)"),
                                   filters=[clean_text])
    # Set by the view: the customer's invoices this type may name, by id.
    invoices = {}
    details = None
    chosen_invoice = None

    def validate_supply_point(self, field):
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_("Scegli uno dei tuoi punti di fornitura."))

    def validate_kind(self, field):
        if field.data not in tickets.KINDS:
            raise ValidationError(_("Scegli un tipo di richiesta dall'elenco."))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        kind = self.kind.data
        self.details = {}
        if kind not in tickets.KINDS:
            return False
        checks = {"rettifica": self._check_invoice, "doppia": self._check_invoice,
                  "rateizzazione": self._check_instalments, "voltura": self._check_voltura,
                  "disdetta": self._check_disdetta, "indirizzo": self._check_address}
        check = checks.get(kind)
        if check is not None:
            valid = check() and valid
        return valid

    def _fail(self, field, message):
        field.errors = list(field.errors) + [str(message)]
        return False

    def _check_invoice(self):
        invoice = self.invoices.get(self.invoice.data)
        if invoice is None:
            return self._fail(self.invoice, _l("Scegli una delle tue fatture."))
        self.chosen_invoice = invoice
        self.details["invoice_number"] = invoice.number
        self.details["invoice_id"] = invoice.id
        return True

    def _check_instalments(self):
        valid = self._check_invoice()
        text = self.instalments.data or ""
        maximum = current_app.config["INSTALMENT_MAX_COUNT"]
        if not text.isdigit() or not 2 <= int(text) <= maximum:
            return self._fail(self.instalments, _l(
                "Indica un numero di rate da 2 a %(max)s.", max=maximum))
        self.details["instalments"] = int(text)
        return valid

    def _required(self, field):
        if not field.data:
            return self._fail(field, REQUIRED)
        return True

    def _check_voltura(self):
        valid = all([self._required(self.holder_name), self._required(self.holder_tax_code),
                     self._required(self.holder_email), self._check_day(self.start_date)])
        tax_code = (self.holder_tax_code.data or "").replace(" ", "").upper()
        if tax_code and not (len(tax_code) == 16 and tax_code.isalnum()
                             or len(tax_code) == 11 and tax_code.isdigit()):
            valid = self._fail(self.holder_tax_code, _l(
                "Scrivi un codice fiscale di 16 caratteri o una partita IVA di 11 cifre."))
        email = self.holder_email.data or ""
        if email and ("@" not in email or "." not in email.rsplit("@", 1)[-1] or len(email) > 254):
            valid = self._fail(self.holder_email, _l("Scrivi un indirizzo e-mail valido."))
        if not self.attachment.data:
            valid = self._fail(self.attachment, _l(
                "Allega un documento d'identità del nuovo intestatario (PDF, JPEG o PNG)."))
        if valid:
            self.details.update(holder_name=self.holder_name.data, holder_tax_code=tax_code,
                                holder_email=email, start_date=self.start_date.data)
        return valid

    def _check_day(self, field):
        if not self._required(field):
            return False
        day = parse_day(field.data)
        if day is None:
            return self._fail(field, _l("Scrivi la data come gg/mm/aaaa, per esempio 31/01/2027."))
        if day < rome_now().date():
            return self._fail(field, _l("La data non può essere nel passato."))
        field.data = day.strftime("%d/%m/%Y")
        return True

    def _check_disdetta(self):
        valid = self._check_day(self.end_date)
        reading = self.final_reading.data or ""
        if reading and (not reading.isdigit() or len(reading) > 9):
            valid = self._fail(self.final_reading, _l(
                "Scrivi solo le cifre del contatore prima della virgola."))
        if valid:
            self.details.update(end_date=self.end_date.data, final_reading=reading)
        return valid

    def _check_address(self):
        text = " ".join((self.postal_address.data or "").split())
        if not text:
            return self._fail(self.postal_address, REQUIRED)
        if len(text) > 300:
            return self._fail(self.postal_address, _l("L'indirizzo può avere al massimo 300 caratteri."))
        self.details["postal_address"] = text
        return True


def invoice_choices(kind):
    """The customer's own invoices a case of this type may name (newest first): any
    for billing cases; for instalments only unpaid ones above the minimum amount and
    within the days after the due date the settings allow."""
    query = (Invoice.select(Invoice, SupplyPoint.code)
             .join(SupplyPoint)
             .where(Invoice.customer == current_user.id)
             .order_by(Invoice.date.desc(), Invoice.number.desc()))
    if kind == "rateizzazione":
        last_due = rome_now().date() - datetime.timedelta(
            days=current_app.config["INSTALMENT_DAYS_AFTER_DUE"])
        query = query.where(~Invoice.paid
                            & (Invoice.amount >= current_app.config["INSTALMENT_MIN_EUR"])
                            & (Invoice.due_date >= last_due))
    return {str(invoice.id): invoice for invoice in query.limit(60)}


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
    return or_404(Ticket.get_for_customer(ticket_id, current_user.id))


@bp.get("")
@customer_required
def index():
    """Ticket: the customer's tickets, newest activity first."""
    query = (Ticket.for_customer(current_user.id)
             .select_extend(SupplyPoint.id, SupplyPoint.code)
             .join(SupplyPoint, JOIN.LEFT_OUTER))
    return render_page("tickets/index.html", pager=Pager(query, PER_PAGE))


@bp.get("/nuovo")
@bp.post("/nuovo")
@customer_required
@message_limit
def new():
    """Nuova richiesta: first the type, then the fields that type needs."""
    kind = request.values.get("kind") or request.args.get("tipo")
    if kind not in tickets.KINDS:
        if request.method == "POST":
            kind = None
        else:
            return render_page("tickets/kinds.html", kinds=[
                (kind, tickets.standard_days(kind.code)) for kind in tickets.KINDS.values()])
    form = TicketForm()
    if kind:
        form.kind.data = kind
    if kind == "voltura":
        form.attachment.label.text = _("Documento d'identità del nuovo intestatario")
    points = customer_supply_points()
    form.supply_point.choices = ([SelectChoice(point.code, point.label) for point in points]
                                 or [SelectChoice("", _("Nessun punto di fornitura"))])
    form.invoices = invoice_choices(kind) if kind and tickets.KINDS[kind].invoice else {}
    form.invoice.choices = [SelectChoice("", _("Scegli la fattura"))] + [
        SelectChoice(key, _("n. %(number)s del %(date)s, %(amount)s (%(point)s)",
                            number=invoice.number, date=local_date(invoice.date),
                            amount=local_money(invoice.amount),
                            point=invoice.supply_point.code))
        for key, invoice in form.invoices.items()]
    if request.method == "GET" and points:
        form.supply_point.data = selected_supply_point().code
        if kind and not form.subject.data:
            form.subject.data = str(tickets.kind_label(kind))
    if form.validate_on_submit() and _within_quota(form):
        supply_point = (SupplyPoint.get_for_customer(form.supply_point.data, current_user.id)
                        if form.supply_point.data else None)
        ticket, first_result = create_once(form, lambda submission: tickets.open_ticket(
            current_user._get_current_object(), supply_point, kind, form.subject.data,
            form.message.data, form.upload, submission, details=form.details,
            invoice=form.chosen_invoice), _thread_url)
        if first_result:
            flash(str(ALREADY_SENT), "success")
            return htmx_redirect(first_result)
        flash(_("Richiesta registrata con il codice pratica %(code)s: qui sotto trovi la "
                "ricevuta; ti avviseremo per e-mail a ogni risposta.", code=ticket.code), "success")
        return htmx_redirect(_thread_url(ticket))
    status = 422 if request.method == "POST" else 200
    return render_page("tickets/new.html", form=form, kind=tickets.KINDS.get(kind)), status


@bp.get("/<int:ticket_id>/ricevuta.pdf")
@customer_required
def receipt(ticket_id):
    """The case's receipt as a PDF."""
    ticket = _own_ticket(ticket_id)
    response = make_response(tickets.receipt_pdf(ticket))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="ricevuta-{ticket.code}.pdf"'
    return response


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


# The case rules the templates use, straight from portal/tickets.py.
for name, rule in (("case_kind", tickets.kind_label), ("case_details", tickets.detail_lines),
                   ("deadline_state", tickets.deadline_state),
                   ("case_lateness", tickets.lateness)):
    bp.add_app_template_filter(rule, name)


@bp.app_template_filter("case_indemnified")
def case_indemnified(kind):
    """Whether a late answer to this type earns the automatic indemnity."""
    return tickets.KINDS.get(kind, tickets.KINDS["altro"]).indemnity


# --- The complaint without login (TIQV) ------------------------------------------------

class PublicComplaintForm(FlaskForm):
    """A complaint from someone not logged in: who they are by the data on a bill, the
    address to confirm, the complaint itself. `website` is a trap for robots (hidden
    from people, left empty by them)."""

    name = StringField(_l("Nome e cognome o ragione sociale dell'intestatario"), [
        DataRequired(REQUIRED), Length(max=150, message=_l("Al massimo 150 caratteri."))],
        filters=[single_line])
    customer_code = StringField(_l("Codice cliente (6 cifre, sulla bolletta)"),
                                filters=[single_line])
    point_code = StringField(_l("Codice PDR (gas) o POD (luce)"), filters=[single_line])
    address = StringField(_l("Indirizzo della fornitura"), [DataRequired(REQUIRED), Length(
        max=200, message=_l("Al massimo 200 caratteri."))], filters=[single_line])
    email = StringField(_l("E-mail"), [DataRequired(REQUIRED), Length(
        max=254, message=_l("Al massimo 254 caratteri."))], filters=[single_line])
    subject = StringField(_l("Oggetto"), [DataRequired(REQUIRED), Length(
        max=150, message=_l("L'oggetto può avere al massimo 150 caratteri."))],
        filters=[single_line])
    message = TextAreaField(_l("Il tuo reclamo"), [DataRequired(REQUIRED), Length(
        max=MAX_MESSAGE, message=_l("Il messaggio può avere al massimo %(count)s caratteri.",
                                    count=MAX_MESSAGE))], filters=[clean_text])
    website = StringField(_l("Lascia vuoto questo campo"), filters=[single_line])

    def validate_customer_code(self, field):
        code = field.data or ""
        if code and not (code.isdigit() and len(code) == 6):
            raise ValidationError(_("Il codice cliente è di 6 cifre."))
        if not code and not self.point_code.data:
            raise ValidationError(_("Indica il codice cliente oppure il codice PDR/POD."))

    def validate_point_code(self, field):
        code = "".join((field.data or "").split()).upper()
        if code and not (code.isalnum() and len(code) <= 16):
            raise ValidationError(_("Il codice PDR ha 14 cifre, il POD 14 o 15 caratteri "
                                    "(per esempio IT001E12345678)."))
        field.data = code

    def validate_email(self, field):
        email = field.data or ""
        if "@" not in email or "." not in email.rsplit("@", 1)[-1] or " " in email:
            raise ValidationError(_("Scrivi un indirizzo e-mail valido."))


def _complaint_email_key():
    return "public-complaint:" + (request.form.get("email") or "").strip().lower()[:254]


public_limit_per_address = limiter.shared_limit(
    lambda: current_app.config["PUBLIC_COMPLAINT_LIMIT"], scope="public-complaint",
    methods=["POST"], deduct_when=lambda response: response.status_code < 400)
public_limit_per_email = limiter.shared_limit(
    lambda: current_app.config["PUBLIC_COMPLAINT_LIMIT"], scope="public-complaint-email",
    key_func=_complaint_email_key, methods=["POST"],
    deduct_when=lambda response: response.status_code < 400)


@bp.get("/reclamo")
@bp.post("/reclamo")
@public_limit_per_address
@public_limit_per_email
def public_complaint():
    """Reclamo senza accesso: anyone may send a written complaint (TIQV); it becomes a
    case only once the e-mail address confirms it by a link."""
    form = PublicComplaintForm()
    if form.validate_on_submit():
        if not form.website.data:
            tickets.submit_public(form.name.data, form.customer_code.data, form.point_code.data,
                                  form.address.data, form.email.data, form.subject.data,
                                  form.message.data)
        return render_page("tickets/public_sent.html", email=form.email.data)
    status = 422 if request.method == "POST" else 200
    return render_page("tickets/public.html", form=form), status


@bp.get("/reclamo/conferma/<token>")
@bp.post("/reclamo/conferma/<token>")
@limiter.limit("10 per minute", methods=["POST"])
def confirm_public_complaint(token):
    """The link of the confirmation e-mail (GET only asks: mail scanners open links)."""
    complaint = tickets.public_for_token(token)
    if complaint is None:
        return render_page("tickets/public_confirm.html", complaint=None), 404
    form = FlaskForm()
    if form.validate_on_submit():
        confirmed = tickets.confirm_public(complaint)
        if confirmed is None:
            return render_page("tickets/public_confirm.html", complaint=None), 404
        return render_page("tickets/public_confirm.html", complaint=confirmed, done=True,
                           kind="reclamo",
                           due_on=tickets.due_date("reclamo", confirmed.confirmed_at))
    return render_page("tickets/public_confirm.html", complaint=complaint, form=form)
