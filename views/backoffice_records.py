"""Back-office pages on the backoffice blueprint: the audited customer view, reading
windows, documents (I miei documenti, Modulistica), acquisition and the audit log."""
import datetime

from flask import abort, current_app, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from peewee import JOIN
from wtforms import DateField, RadioField, StringField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from models import (
    AcquisitionRun,
    Customer,
    DirectDebitMandate,
    Document,
    Form,
    Invoice,
    Operator,
    ReadingWindow,
    RegistrationRequest,
    SelfReading,
    SupplyPoint,
    Ticket,
    db,
    rome_now,
)
from portal import attachments, backoffice, holdings
from portal.acquisition import acquire_all
from views import Pager, get_or_404, is_htmx, or_404, render_page
from views.backoffice import (
    audit_action,
    audit_customer_view,
    bp,
    done,
    operator_required,
    row_removed,
)
from views.downloads import send_stored
from views.tickets import REQUIRED, clean_text, single_line

EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


# --- Forms ------------------------------------------------------------------------

class _BlankIsNoInput:
    """Spaces are no input either: the field is None and InputRequired says so."""

    def process_formdata(self, valuelist):
        if valuelist and not "".join(valuelist).strip():
            self.data = None
            self.raw_data = []
            return
        super().process_formdata(valuelist)


class BlankableDateField(_BlankIsNoInput, DateField):
    """A date in ISO (the date picker) or dd/mm/yyyy; blank (or spaces) is None for
    InputRequired."""

    def __init__(self, label, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%d", "%d/%m/%Y"],
                         invalid_value_message="Data non valida: usa il formato gg/mm/aaaa.",
                         **kwargs)


class BlankableTimeField(_BlankIsNoInput, TimeField):
    def __init__(self, label, validators=None, **kwargs):
        super().__init__(label, validators, format="%H:%M",
                         invalid_value_message="Ora non valida: usa il formato hh:mm.", **kwargs)


def _sensible_year(form, field):
    if field.data and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
        raise ValidationError(f"L'anno deve essere tra {EARLIEST_YEAR} e {LATEST_YEAR}.")


class ReadingWindowForm(FlaskForm):
    supply_point = StringField("Punto di fornitura", [Length(max=32)], filters=[clean_text])
    start_date = BlankableDateField("Dal", [InputRequired(REQUIRED), _sensible_year])
    start_time = BlankableTimeField("A partire dalle ore", [InputRequired(REQUIRED)])
    end_date = BlankableDateField("Al", [InputRequired(REQUIRED), _sensible_year])
    end_time = BlankableTimeField("Fino alle ore", [InputRequired(REQUIRED)])
    point = None

    def validate_supply_point(self, field):
        if field.data:
            self.point = SupplyPoint.get_or_none(SupplyPoint.code == field.data.upper())
            if self.point is None:
                raise ValidationError("Nessun punto di fornitura con questo codice.")
            if not self.point.is_gas:
                raise ValidationError("Le autoletture riguardano solo i punti gas: "
                                      "questo è un punto elettrico.")

    @property
    def start_at(self):
        return datetime.datetime.combine(self.start_date.data, self.start_time.data)

    @property
    def end_at(self):
        return datetime.datetime.combine(self.end_date.data, self.end_time.data)

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.end_at <= self.start_at:
            self.end_date.errors.append("La fine del periodo deve venire dopo l'inizio.")
            return False
        if self.end_at <= rome_now():
            self.end_date.errors.append("Il periodo è già concluso: la fine deve essere "
                                        "nel futuro.")
            return False
        return True


class DocumentForm(FlaskForm):
    audience = RadioField("Destinatari", validate_choice=False, default="customer", choices=[
        SelectChoice("customer", "Un cliente (I miei documenti)"),
        SelectChoice("everybody", "Tutti i clienti (Modulistica)")])
    customer_code = StringField("Codice cliente", [Length(max=16)], filters=[clean_text])
    title = StringField("Titolo", [DataRequired(REQUIRED), Length(
        max=200, message="Il titolo può avere al massimo 200 caratteri.")], filters=[single_line])
    date = BlankableDateField("Data", [InputRequired(REQUIRED), _sensible_year])
    file = FileField("File (PDF, JPEG o PNG, al massimo 5 MB)")
    customer = None
    upload = None

    def validate_audience(self, field):
        if field.data not in ("customer", "everybody"):
            raise ValidationError("Scegli a chi pubblicare il documento.")

    def validate_customer_code(self, field):
        if self.audience.data != "customer":
            return
        if not field.data:
            raise ValidationError("Indica il codice cliente del destinatario.")
        self.customer = Customer.get_or_none(Customer.code == field.data)
        if self.customer is None:
            raise ValidationError("Nessun cliente con questo codice.")

    def validate_file(self, field):
        if not field.data:
            raise ValidationError("Scegli il file da pubblicare.")
        try:
            self.upload = attachments.check_upload(field.data)
        except attachments.AttachmentError as error:
            raise ValidationError(str(error)) from None


# --- Customers --------------------------------------------------------------------

@bp.get("/clienti")
@operator_required()
def customers():
    """Customer search by code, name, codice fiscale or partita IVA."""
    term = clean_text(request.args.get("q", ""))[:100]
    results = backoffice.search_customers(term)
    if term:
        # The result list shows customers' data: the search itself is recorded.
        audit_action("operator_search_customers",
                     detail=f"ricerca «{term}»: {len(results)} risultati")
    return render_page("backoffice/customers.html", term=term, results=results)


CUSTOMER_SECTIONS = {
    "dati": "dati e punti di fornitura",
    "fatture": "fatture",
    "autoletture": "autoletture",
    "ticket": "ticket",
    "documenti": "documenti",
}


def customer_or_404(code):
    if "\x00" in code:
        abort(404)  # no code has one, and PostgreSQL refuses NUL in a text value
    return get_or_404(Customer, Customer.code == code)


def _section_rows(customer, section):
    if section == "fatture":
        return Pager(Invoice
                     .select(Invoice, SupplyPoint)
                     .join(SupplyPoint)
                     .where(Invoice.customer == customer)
                     .order_by(Invoice.date.desc(), Invoice.number.desc()), 25)
    if section == "autoletture":
        return Pager(SelfReading
                     .select(SelfReading, SupplyPoint)
                     .join(SupplyPoint)
                     .where(SelfReading.customer == customer)
                     .order_by(SelfReading.reading_date.desc(), SupplyPoint.code), 25)
    if section == "ticket":
        return Pager(Ticket.for_customer(customer), 25)
    if section == "documenti":
        return Pager(Document.for_customer(customer), 25)
    return None


@bp.get("/clienti/<code>", defaults={"section": "dati"})
@bp.get("/clienti/<code>/<any(fatture, autoletture, ticket, documenti):section>")
@operator_required()
def customer(code, section):
    """A customer's data, read-only, one section at a time; every view is audited."""
    customer = customer_or_404(code)
    audit_customer_view(customer, CUSTOMER_SECTIONS[section])
    points = SupplyPoint.of_customer(customer.id) if section == "dati" else []
    return render_page("backoffice/customer.html", customer=customer, section=section,
                       sections=CUSTOMER_SECTIONS, pager=_section_rows(customer, section),
                       registration_requests=list(RegistrationRequest.pending_for(customer)),
                       points=points, histories={point.id: holdings.history(point)
                                                 for point in points})


@bp.get("/clienti/<code>/fatture/<int:invoice_id>/pdf")
@operator_required()
def invoice_pdf(code, invoice_id):
    """Download the PDF of one of the customer's invoices."""
    customer = customer_or_404(code)
    invoice = or_404(Invoice.get_for_customer(invoice_id, customer))
    audit_customer_view(customer, f"PDF fattura {invoice.number}")
    return _send_stored(invoice.pdf_path, f"fattura-{invoice.number}")


def _send_stored(relative, stem):
    """A stored invoice PDF, document or form as a download, named by the server."""
    return send_stored(relative, stem, missing="Il file non è disponibile sul server.")


# --- Reading windows --------------------------------------------------------------

def _windows_page(form, status=200, editing=None):
    windows = (ReadingWindow
               .select(ReadingWindow, SupplyPoint)
               .join(SupplyPoint, JOIN.LEFT_OUTER)
               .order_by(ReadingWindow.start_at.desc(), ReadingWindow.id.desc()))
    return render_page("backoffice/windows.html", form=form, editing=editing,
                       pager=Pager(windows, 20)), status


@bp.get("/finestre")
@bp.post("/finestre")
@operator_required()
def windows():
    """Reading windows: the list and a new one (every gas point, or one)."""
    form = ReadingWindowForm()
    if not form.validate_on_submit():
        return _windows_page(form, 422 if request.method == "POST" else 200)
    with db.atomic():
        window = ReadingWindow.create(supply_point=form.point, start_at=form.start_at,
                                      end_at=form.end_at)
    audit_action("reading_window_created", detail=_window_detail(window))
    return done("Periodo di autolettura aggiunto.", "backoffice.windows")


def _window_detail(window):
    where = window.supply_point.code if window.supply_point_id else "tutti i punti gas"
    return f"{where}: {window.start_at:%d/%m/%Y %H:%M} - {window.end_at:%d/%m/%Y %H:%M}"


@bp.get("/finestre/<int:window_id>")
@bp.post("/finestre/<int:window_id>")
@operator_required()
def window_edit(window_id):
    """Change a reading window."""
    window = get_or_404(ReadingWindow, ReadingWindow.id == window_id)
    if request.method == "GET":
        form = ReadingWindowForm(formdata=None, data=dict(
            supply_point=window.supply_point.code if window.supply_point_id else "",
            start_date=window.start_at.date(), start_time=window.start_at.time(),
            end_date=window.end_at.date(), end_time=window.end_at.time()))
        return _windows_page(form, editing=window)
    form = ReadingWindowForm()
    if not form.validate_on_submit():
        return _windows_page(form, 422, editing=window)
    with db.atomic():
        (ReadingWindow
         .update(supply_point=form.point, start_at=form.start_at, end_at=form.end_at)
         .where(ReadingWindow.id == window.id)
         .execute())
    audit_action("reading_window_updated",
                 detail=_window_detail(ReadingWindow.get_by_id(window.id)))
    return done("Periodo di autolettura modificato.", "backoffice.windows")


@bp.post("/finestre/<int:window_id>/elimina")
@operator_required()
def window_delete(window_id):
    """Delete a reading window (htmx: the row goes, the list hears windowsChanged)."""
    window = get_or_404(ReadingWindow, ReadingWindow.id == window_id)
    with db.atomic():
        ReadingWindow.delete().where(ReadingWindow.id == window.id).execute()
    audit_action("reading_window_deleted", detail=_window_detail(window))
    if is_htmx():
        return row_removed("windowsChanged")
    return done("Periodo di autolettura eliminato.", "backoffice.windows")


# --- Documents --------------------------------------------------------------------

@bp.get("/documenti")
@bp.post("/documenti")
@operator_required()
def documents():
    """Publish a file to one customer (I miei documenti) or to everybody (Modulistica)."""
    prefill = dict(date=rome_now().date(), customer_code=request.args.get("cliente", "")[:16])
    form = DocumentForm(data=prefill if request.method == "GET" else None)
    if form.validate_on_submit():
        record = backoffice.publish(form.upload, form.title.data, form.date.data, form.customer)
        if form.customer is not None:
            audit_action("document_published", form.customer, f"«{record.title}»")
            return done(f"Documento «{record.title}» pubblicato per il cliente "
                        f"{form.customer.code}.", "backoffice.customer", code=form.customer.code,
                        section="documenti")
        audit_action("form_published", detail=f"«{record.title}»")
        return done(f"Modulo «{record.title}» pubblicato in Modulistica.", "backoffice.documents")
    status = 422 if request.method == "POST" else 200
    return render_page("backoffice/documents.html", form=form,
                       forms=list(Form.in_order())), status


def _published(kind, record_id):
    model = {"documento": Document, "modulo": Form}.get(kind)
    if model is None:
        abort(404)
    return get_or_404(model, model.id == record_id)


@bp.get("/documenti/<any(documento, modulo):kind>/<int:record_id>/file")
@operator_required()
def published_file(kind, record_id):
    """Download a published document or form, as the customers get it."""
    record = _published(kind, record_id)
    if kind == "documento":
        audit_customer_view(record.customer, f"documento «{record.title}»")
    return _send_stored(record.file_path, record.title)


@bp.post("/documenti/<any(documento, modulo):kind>/<int:record_id>/ritira")
@operator_required()
def withdraw(kind, record_id):
    """Withdraw a published document or form (row and file)."""
    record = _published(kind, record_id)
    backoffice.withdraw(record)
    if kind == "documento":
        audit_action("document_withdrawn", record.customer, f"«{record.title}»")
    else:
        audit_action("form_withdrawn", detail=f"«{record.title}»")
    if is_htmx():
        return row_removed("documentsChanged")
    if kind == "documento":
        return done(f"Documento «{record.title}» ritirato.", "backoffice.customer",
                    code=record.customer.code, section="documenti")
    return done(f"Modulo «{record.title}» ritirato.", "backoffice.documents")


# --- Acquisition ------------------------------------------------------------------

@bp.get("/acquisizione")
@operator_required()
def acquisition():
    """The last acquisition runs and what waits for the next one."""
    runs = (AcquisitionRun
            .select()
            .order_by(AcquisitionRun.started_at.desc(), AcquisitionRun.id.desc())
            .limit(20))
    pending = SelfReading.select().where(SelfReading.status == SelfReading.PENDING).count()
    return render_page("backoffice/acquisition.html", runs=list(runs), pending=pending,
                       pending_mandates=DirectDebitMandate.waiting_for_export().count())


@bp.post("/acquisizione/avvia")
@operator_required()
def acquire_now():
    """Export the pending self-readings and mandate requests for billing now."""
    run, mandates = acquire_all(current_app.config["EXPORT_DIR"], trigger="operator")
    readings = run.reading_count if run else 0
    requests = mandates[1] if mandates else 0
    audit_action("acquisition_started",
                 detail=f"{readings} letture, {requests} richieste di domiciliazione")
    if run is None and mandates is None:
        return done("Nessuna autolettura da acquisire e nessuna richiesta di domiciliazione "
                    "da esportare: nessun file scritto.", "backoffice.acquisition", "info")
    written = []
    if run is not None:
        written.append(f"{readings} autoletture in {run.file_path}")
    if mandates is not None:
        written.append(f"{requests} richieste di domiciliazione in {mandates[0].name}")
    return done(f"Esportate {' e '.join(written)}.", "backoffice.acquisition")


# --- Audit log --------------------------------------------------------------------

@bp.get("/registro")
@operator_required(role=Operator.ADMIN)
def audit_log():
    """Registro eventi (admin only): filter by customer, operator and event."""
    events = backoffice.audit_events()
    event = request.args.get("evento", "")
    filters = dict(cliente=clean_text(request.args.get("cliente", ""))[:16],
                   operatore=clean_text(request.args.get("operatore", ""))[:64],
                   evento=event if event in events else "")
    entries = backoffice.audit_entries(filters["cliente"], filters["operatore"], filters["evento"])
    return render_page("backoffice/audit.html", pager=Pager(entries, 50), filters=filters,
                       events=events)

