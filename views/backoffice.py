"""The back-office under /operatore: access (login, logout, the guard), the ticket
inbox and answers. The other back-office pages (customers, reading windows, documents,
acquisition, audit log) are in views/backoffice_records.py, the admins' page of
operator accounts in views/backoffice_accounts.py, all on this module's blueprint."""
import functools
import time

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import DateField, Form, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from models import Customer, Operator, PublicComplaint, Ticket, TicketMessage, audit
from portal import backoffice, tickets
from views import (CreatingForm, Pager, client_ip, create_once, htmx_redirect, is_htmx,
                   is_safe_next, limiter, render_page)
from views.downloads import send_ticket_attachment
from views.sessions import log_out
from views.tickets import ALREADY_SENT, MAX_MESSAGE, REQUIRED, MessageForm, clean_text

bp = Blueprint("backoffice", __name__, url_prefix="/operatore")

LOGIN_FAILED = ("Credenziali non valide. Controlla nome utente e password; dopo troppi "
                "tentativi l'accesso resta sospeso per 15 minuti.")
REPLY_MAILED = "Risposta inviata: il cliente riceverà un avviso per e-mail."
REPLY_NOT_MAILED = ("Risposta salvata, ma il cliente non ha un indirizzo e-mail o ha scelto di "
                    "non ricevere questi avvisi: la vedrà nell'Area Clienti.")


# --- Access -----------------------------------------------------------------------

def operator_required(role=None):
    """Only operators (with `role`, when given): anonymous visitors go to the operator
    login, customers get 404 (the back-office does not exist for them), an operator
    without the role gets 403 (they know the page exists: it says why they are refused)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user._get_current_object()
            if isinstance(user, Customer):
                abort(404)
            if not isinstance(user, Operator) or not user.is_active:
                if isinstance(user, Operator):
                    logout_user()
                    session.clear()
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return htmx_redirect(url_for("backoffice.login", next=target))
            if role and user.role != role:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def audit_action(event, customer=None, detail=""):
    audit(event, customer=customer, operator=current_user.id, ip=client_ip(), detail=detail)


def audit_customer_view(customer, detail):
    """Every look at one customer's data: who, when, which customer, what."""
    audit_action("operator_view_customer", customer=customer, detail=detail)


def done(notice, endpoint, level="success", **values):
    """After a change: a flash and a 303 to the page (HX-Redirect for htmx)."""
    flash(notice, level)
    return htmx_redirect(url_for(endpoint, **values))


def row_removed(event):
    """htmx row delete: 200 with an empty body (the row goes) and an event to listen to."""
    response = current_app.make_response(("", 200))
    response.headers["HX-Trigger"] = event
    return response


# --- Forms ------------------------------------------------------------------------

class LoginForm(FlaskForm):
    username = StringField("Nome utente", [DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField("Password", [DataRequired(REQUIRED), Length(max=512)])


def _status_choice(form, field):
    if field.data not in tickets.STATUSES:
        raise ValidationError("Scegli uno stato dall'elenco.")


class NoteForm(CreatingForm):
    note = TextAreaField("Nota interna (il cliente non la vede)", [DataRequired(REQUIRED), Length(
        max=MAX_MESSAGE, message=f"La nota può avere al massimo {MAX_MESSAGE} caratteri.")],
        filters=[clean_text])


def _kind_choice(form, field):
    if field.data not in tickets.KINDS:
        raise ValidationError("Scegli un tipo dall'elenco.")


def _outcome_choice(form, field):
    if field.data and field.data not in tickets.OUTCOMES:
        raise ValidationError("Scegli un esito dall'elenco.")


class ReplyForm(MessageForm):
    # The ticket page also holds StatusForm's `status`: one name each, two ids.
    status = SelectField("Stato dopo la risposta", [_status_choice], validate_choice=False,
                         choices=[SelectChoice(status, status) for status in tickets.STATUSES],
                         default=Ticket.IN_PROGRESS, id="reply-status")
    outcome = SelectField("Esito (per il registro)", [_outcome_choice], validate_choice=False,
                          choices=[SelectChoice("", "Non ancora deciso")]
                          + [SelectChoice(outcome, outcome) for outcome in tickets.OUTCOMES])


class RetypeForm(FlaskForm):
    kind = SelectField("Tipo della pratica", [_kind_choice], validate_choice=False,
                       choices=[SelectChoice(kind.code, str(kind.label))
                                for kind in tickets.KINDS.values()])


class MatchForm(FlaskForm):
    code = StringField("Codice cliente", [DataRequired(REQUIRED), Length(max=6)])


class RegisterDateField(DateField):
    """A day of the register's range: ISO (the date picker) or dd/mm/yyyy; empty is no
    bound."""

    def __init__(self, label, **kwargs):
        super().__init__(label, format=["%Y-%m-%d", "%d/%m/%Y"],
                         invalid_value_message="Data non valida: usa il formato gg/mm/aaaa.",
                         **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.raw_data = []
            return
        super().process_formdata([" ".join(valuelist).strip()])

    def pre_validate(self, form):
        if self.data is not None and not 2000 <= self.data.year <= 2099:
            raise ValidationError("L'anno deve essere tra 2000 e 2099.")


class RegisterForm(Form):
    """Dal / al of the register export: a GET that changes nothing, so no CSRF token and
    the range stays in the URL."""

    dal = RegisterDateField("Ricevute dal")
    al = RegisterDateField("al")

    def validate_al(self, field):
        if self.dal.data and field.data and field.data < self.dal.data and not self.dal.errors:
            raise ValidationError("La data «al» non può precedere la data «dal».")


class StatusForm(FlaskForm):
    status = SelectField("Stato", [_status_choice], validate_choice=False,
                         choices=[SelectChoice(status, status) for status in tickets.STATUSES])


# --- Login ------------------------------------------------------------------------

def _username_key():
    """Rate-limit key for the account named in the form (whether or not it exists)."""
    return "operator:" + backoffice.normalise_username(request.form.get("username", ""))[:64]


@bp.get("/login")
@bp.post("/login")
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit("10 per minute;100 per hour", key_func=_username_key, methods=["POST"])
def login():
    """Accesso operatori: username and password."""
    user = current_user._get_current_object()
    if isinstance(user, Customer):
        abort(404)
    if isinstance(user, Operator) and user.is_active:
        return redirect(url_for("backoffice.index"))
    form = LoginForm()
    error = None
    if session.pop("expired", False):
        error = "La sessione è scaduta per inattività: accedi di nuovo."
    if form.validate_on_submit():
        operator = backoffice.authenticate(form.username.data, form.password.data, ip=client_ip())
        if operator is not None:
            # A fresh session: nothing planted before login survives it.
            session.clear()
            login_user(operator)
            session["login_at"] = session["seen"] = time.time()
            session.permanent = True
            audit("operator_login_ok", operator=operator, ip=client_ip())
            target = request.args.get("next")
            if not (is_safe_next(target) and target.startswith("/operatore")):
                target = url_for("backoffice.index")
            return redirect(target, 303)
        named = backoffice.operator_named(form.username.data)
        audit("operator_login_failed", operator=named, ip=client_ip())
        error = LOGIN_FAILED
    status = 422 if request.method == "POST" else 200
    return render_page("backoffice/login.html", form=form, error=error), status


@bp.post("/logout")
@operator_required()
def logout():
    """Log out and end every copy of this session."""
    return log_out("Sei uscito dal back-office.", "backoffice.login")


@bp.get("")
@operator_required()
def index():
    """The back-office starts at the ticket inbox."""
    return redirect(url_for("backoffice.inbox"))


# --- Tickets ----------------------------------------------------------------------

def _ticket_or_404(ticket_id):
    ticket = (Ticket
              .select(Ticket, Customer)
              .join(Customer)
              .where(Ticket.id == ticket_id)
              .first())
    if ticket is None:
        abort(404)
    return ticket


@bp.get("/ticket")
@operator_required()
def inbox():
    """Ticket inbox by deadline: filter by status, category, type and time left, search
    subject, customer, codice pratica, number."""
    return _render_inbox(RegisterForm())


def _render_inbox(register_form, status=200):
    filters = dict(
        stato=request.args.get("stato") if request.args.get("stato") in tickets.STATUSES else "",
        categoria=(request.args.get("categoria")
                   if request.args.get("categoria") in Ticket.CATEGORIES else ""),
        tipo=request.args.get("tipo") if request.args.get("tipo") in tickets.KINDS else "",
        coda=(request.args.get("coda")
              if request.args.get("coda") in ("overdue", "due-soon") else ""),
        q=clean_text(request.args.get("q", ""))[:100])
    pager = Pager(tickets.inbox(filters["stato"], filters["categoria"], filters["q"],
                                filters["tipo"], filters["coda"]), 25)
    return render_page("backoffice/inbox.html", pager=pager, filters=filters,
                       kinds=tickets.KINDS.values(), register_form=register_form,
                       unmatched=tickets.unmatched_complaints().count(),
                       waiting=tickets.awaiting_answer(pager.items)), status


@bp.get("/ticket/registro.csv")
@operator_required()
def case_register():
    """The register of cases (CSV) for the utility's regulatory reporting: received and
    answered dates, type, outcome, indemnity; `dal` / `al` (yyyy-mm-dd or dd/mm/yyyy)
    narrow it. A wrong range gives the inbox again with the message beside the field."""
    form = RegisterForm(request.args)
    if not form.validate():
        return _render_inbox(form, 422)
    since, until = form.dal.data, form.al.data
    audit_action("operator_case_register", detail=f"{since or ''}..{until or ''}")
    response = current_app.make_response(tickets.register_csv(since, until))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    name = "registro-pratiche" + (f"-dal-{since}" if since else "") + (f"-al-{until}" if until else "")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@bp.get("/ticket/reclami-senza-accesso")
@operator_required()
def public_complaints():
    """Confirmed complaints without login that no customer matched: an operator matches
    each to a customer code, which makes it a case (received when confirmed)."""
    return render_page("backoffice/public_complaints.html",
                       complaints=list(tickets.unmatched_complaints()),
                       form=MatchForm(formdata=None), errors={})


@bp.post("/ticket/reclami-senza-accesso/<int:complaint_id>")
@operator_required()
def match_public_complaint(complaint_id):
    """Match one complaint without login to a customer."""
    complaint = PublicComplaint.get_or_none(
        (PublicComplaint.id == complaint_id)
        & (PublicComplaint.status == PublicComplaint.UNMATCHED))
    if complaint is None:
        abort(404)
    form = MatchForm()
    customer = (Customer.get_or_none(Customer.code == form.code.data.strip())
                if form.validate_on_submit() else None)
    if customer is None:
        errors = {complaint.id: form.code.errors[0] if form.code.errors
                  else "Nessun cliente con questo codice."}
        return render_page("backoffice/public_complaints.html",
                           complaints=list(tickets.unmatched_complaints()), form=form,
                           errors=errors), 422
    ticket = tickets.attach_public(complaint, customer)
    if ticket is None:
        return done("Il reclamo era già stato abbinato.", "backoffice.public_complaints", "warning")
    audit_action("operator_match_complaint", customer, f"pratica {ticket.code}")
    return done(f"Reclamo {ticket.code} abbinato al cliente {customer.code}.",
                "backoffice.ticket", ticket_id=ticket.id)


def _render_ticket(ticket, status=200, notice=None, level="success", **forms):
    # The outcome already recorded stays chosen: a second reply does not look undecided.
    forms.setdefault("reply_form", ReplyForm(formdata=None, outcome=ticket.outcome or ""))
    forms.setdefault("note_form", NoteForm(formdata=None))
    forms.setdefault("status_form", StatusForm(formdata=None, status=ticket.status))
    forms.setdefault("retype_form", RetypeForm(formdata=None, kind=ticket.kind))
    return render_page("backoffice/ticket.html", ticket=ticket, customer=ticket.customer,
                       indemnity=tickets.indemnity(ticket.kind, ticket.received_at, ticket.due_on,
                                                   ticket.answered_at),
                       messages=tickets.all_messages(ticket), notice=notice, level=level,
                       **forms), status


def _ticket_url(ticket):
    return url_for("backoffice.ticket", ticket_id=ticket.id)


def _after_ticket_change(ticket_id, notice, level="success"):
    if not is_htmx():
        return done(notice, "backoffice.ticket", level, ticket_id=ticket_id)
    return _render_ticket(_ticket_or_404(ticket_id), notice=notice, level=level)


@bp.get("/ticket/<int:ticket_id>")
@operator_required()
def ticket(ticket_id):
    """One ticket with the whole thread, internal notes included."""
    ticket = _ticket_or_404(ticket_id)
    audit_customer_view(ticket.customer, f"ticket n. {ticket.id}")
    return _render_ticket(ticket)


@bp.post("/ticket/<int:ticket_id>/rispondi")
@operator_required()
def ticket_reply(ticket_id):
    """Answer the customer (who is told by e-mail) and set the status."""
    ticket = _ticket_or_404(ticket_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_ticket(ticket, 422, reply_form=form)
    answer, first_result = create_once(form, lambda submission: tickets.operator_reply(
        ticket, current_user.id, form.message.data, form.status.data, form.upload, submission,
        form.outcome.data),
        _ticket_url)
    if first_result:
        return _after_ticket_change(ticket.id, ALREADY_SENT)
    _, mailed = answer
    audit_action("operator_ticket_reply", ticket.customer, f"ticket n. {ticket.id}")
    if mailed:
        return _after_ticket_change(ticket.id, REPLY_MAILED)
    return _after_ticket_change(ticket.id, REPLY_NOT_MAILED, "warning")


@bp.post("/ticket/<int:ticket_id>/nota")
@operator_required()
def ticket_note(ticket_id):
    """Add an internal note that the customer never sees."""
    ticket = _ticket_or_404(ticket_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _render_ticket(ticket, 422, note_form=form)
    _, first_result = create_once(form, lambda submission: tickets.add_note(
        ticket, current_user.id, form.note.data, submission), _ticket_url)
    if first_result:
        return _after_ticket_change(ticket.id, ALREADY_SENT)
    audit_action("operator_ticket_note", ticket.customer, f"ticket n. {ticket.id}")
    return _after_ticket_change(ticket.id, "Nota interna aggiunta.")


@bp.post("/ticket/<int:ticket_id>/stato")
@operator_required()
def ticket_status(ticket_id):
    """Change the status of a ticket."""
    ticket = _ticket_or_404(ticket_id)
    form = StatusForm()
    if not form.validate_on_submit():
        return _render_ticket(ticket, 422, status_form=form)
    tickets.set_status(ticket, form.status.data)
    audit_action("operator_ticket_status", ticket.customer,
                 f"ticket n. {ticket.id}: {form.status.data}")
    return _after_ticket_change(ticket.id, f"Stato del ticket: {form.status.data}.")


@bp.post("/ticket/<int:ticket_id>/tipo")
@operator_required()
def ticket_retype(ticket_id):
    """Re-type a case: the deadline is recomputed from the day received; audited."""
    ticket = _ticket_or_404(ticket_id)
    form = RetypeForm()
    if not form.validate_on_submit():
        return _render_ticket(ticket, 422, retype_form=form)
    old = tickets.retype(ticket, form.kind.data)
    audit_action("operator_case_retype", ticket.customer,
                 f"pratica {ticket.code}: {old} -> {form.kind.data}")
    return _after_ticket_change(ticket.id, f"Tipo della pratica: {tickets.kind_label(form.kind.data)}; "
                                           "scadenza ricalcolata.")


@bp.get("/ticket/<int:ticket_id>/ricevuta.pdf")
@operator_required()
def ticket_receipt(ticket_id):
    """The case's receipt as the customer has it (PDF), to send again by post or e-mail;
    audited as every look at a customer's data."""
    ticket = _ticket_or_404(ticket_id)
    audit_customer_view(ticket.customer, f"ricevuta della pratica {ticket.code}")
    response = current_app.make_response(tickets.receipt_pdf(ticket))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="ricevuta-{ticket.code}.pdf"'
    return response


@bp.get("/ticket/<int:ticket_id>/allegati/<int:message_id>")
@operator_required()
def ticket_attachment(ticket_id, message_id):
    """Download an attachment of a ticket."""
    ticket = _ticket_or_404(ticket_id)
    message = TicketMessage.get_or_none(
        (TicketMessage.id == message_id) & (TicketMessage.ticket == ticket)
        & TicketMessage.attachment_path.is_null(False))
    if message is None:
        abort(404)
    audit_customer_view(ticket.customer, f"allegato del ticket n. {ticket.id}")
    return send_ticket_attachment(message)
