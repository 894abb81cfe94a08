"""Pagamenti: several invoices in one transfer, the QR codes, the direct-debit mandate,
"Segnala pagamento", and the back-office queue of reported payments."""
from flask import Blueprint, abort, flash, make_response, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from models import DirectDebitMandate, Invoice, PaymentReport
from portal import attachments, payments
from portal.exchange.values import BadValue, parse_tax_code
from views import (CreatingForm, create_once, customer_required, get_or_404, htmx_redirect, or_404,
                   render_page, selected_supply_point)
from views.backoffice import bp as backoffice_bp
from views.backoffice import audit_action, done, operator_required
from views.downloads import ATTACHMENT_MISSING, stored_file
from views.errors import render_error
from views.tickets import ALREADY_SENT, MAX_MESSAGE, REQUIRED, clean_text, single_line

bp = Blueprint("payments", __name__, url_prefix="/pagamenti")

TOO_LONG_FOR_QR = _l("La causale di tante fatture insieme supera i 140 caratteri che il codice "
                     "QR può contenere: scegline meno, oppure copia i dati a mano.")
NONE_CHOSEN = _l("Scegli almeno una fattura da pagare.")
POINT_CEASED = _l("La fornitura di questo punto è cessata: non si può attivare una "
                  "domiciliazione.")


def own_invoice(invoice_id):
    """The customer's invoice with this id (of any of their points); anybody else's is 404."""
    return or_404(Invoice.get_for_customer(invoice_id, current_user.id))


def own_unpaid_invoice(invoice_id):
    invoice = own_invoice(invoice_id)
    if invoice.paid:
        abort(404)
    return invoice


def chosen_invoices(supply_point):
    """The unpaid invoices of the point named by `fattura` (each a 404 when it is not
    the customer's unpaid invoice of that point)."""
    ids = request.args.getlist("fattura", type=int)
    if len(ids) != len(request.args.getlist("fattura")):
        abort(404)
    unpaid = {invoice.id: invoice for invoice in Invoice.unpaid_for(supply_point, current_user.id)}
    if any(invoice_id not in unpaid for invoice_id in ids):
        abort(404)
    return [unpaid[invoice_id] for invoice_id in dict.fromkeys(ids)], list(unpaid.values())


def how_to_pay(invoice):
    """What the "Come pagare" of one unpaid invoice shows."""
    return dict(transfer=payments.Transfer([invoice], current_user),
                pagopa=bool(invoice.pagopa_notice and invoice.pagopa_creditor
                            and payments.pagopa_text(invoice)),
                payment_link=payments.allowed_payment_link(invoice.payment_link),
                direct_debit=payments.mask_iban(invoice.direct_debit_iban)
                if invoice.direct_debit_iban else None,
                report=PaymentReport.latest_for(invoice))


@bp.get("")
@customer_required
def index():
    """Pagamenti: choose unpaid invoices of the point and get one transfer for them all."""
    supply_point = selected_supply_point()
    chosen, unpaid, transfer, error = [], [], None, None
    if supply_point is not None:
        chosen, unpaid = chosen_invoices(supply_point)
        if chosen:
            transfer = payments.Transfer(chosen, current_user)
            if not transfer.fits_qr:
                error = TOO_LONG_FOR_QR
        elif "scelta" in request.args:
            error = NONE_CHOSEN
    return render_page("payments/index.html", supply_point=supply_point, unpaid=unpaid,
                       chosen={invoice.id for invoice in chosen}, transfer=transfer,
                       error=error,
                       mandate=supply_point and payments.active_mandate(supply_point,
                                                                        current_user.id))


def _svg_response(qr, title):
    response = make_response(payments.svg_of(qr, title))
    response.mimetype = "image/svg+xml"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/bonifico.svg")
@customer_required
def transfer_qr():
    """The EPC QR code of a transfer paying the chosen invoices of the point."""
    supply_point = selected_supply_point()
    if supply_point is None:
        abort(404)
    chosen, _unpaid = chosen_invoices(supply_point)
    if not chosen:
        abort(404)
    transfer = payments.Transfer(chosen, current_user)
    if not transfer.fits_qr:
        abort(404)
    return _svg_response(transfer.epc_qr(), _("Codice QR del bonifico"))


@bp.get("/fatture/<int:invoice_id>/pagopa.svg")
@customer_required
def pagopa_qr(invoice_id):
    """The pagoPA QR code of an unpaid invoice that has a notice."""
    invoice = own_unpaid_invoice(invoice_id)
    qr = (payments.pagopa_qr(invoice)
          if invoice.pagopa_notice and invoice.pagopa_creditor else None)
    if qr is None:
        abort(404)
    return _svg_response(qr, _("Codice QR dell'avviso pagoPA"))


# --- Segnala pagamento ----------------------------------------------------------------

class ReportForm(CreatingForm):
    receipt = FileField(_l("Ricevuta del pagamento"))
    upload = None

    def validate_receipt(self, field):
        if not field.data:
            raise ValidationError(_("Scegli il file della ricevuta."))
        try:
            self.upload = attachments.check_upload(field.data)
        except attachments.AttachmentError as error:
            raise ValidationError(str(error)) from None


@bp.get("/fatture/<int:invoice_id>/segnala")
@bp.post("/fatture/<int:invoice_id>/segnala")
@customer_required
def report(invoice_id):
    """Segnala pagamento: the receipt of a payment the invoice does not show yet."""
    invoice = own_unpaid_invoice(invoice_id)
    form = ReportForm()
    if form.validate_on_submit():
        _report, first_result = create_once(form, lambda submission: payments.report_payment(
            invoice, current_user._get_current_object(), form.upload, submission),
            lambda created: url_for("invoices.detail", invoice_id=invoice.id))
        flash(str(ALREADY_SENT) if first_result else
              _("Grazie: abbiamo ricevuto la segnalazione del pagamento. La fattura risulterà "
                "pagata quando l'incasso sarà registrato."), "success")
        return htmx_redirect(first_result or url_for("invoices.detail", invoice_id=invoice.id))
    status = 422 if request.method == "POST" else 200
    return render_page("payments/report.html", invoice=invoice, form=form), status


# --- Domiciliazione -------------------------------------------------------------------

class MandateForm(CreatingForm):
    iban = StringField(_l("IBAN del conto da addebitare"), [DataRequired(REQUIRED)],
                       filters=[clean_text])
    account_holder = StringField(_l("Intestatario del conto"), [DataRequired(REQUIRED), Length(
        max=70, message=_l("Al massimo %(count)s caratteri.", count=70))],
        filters=[single_line])
    holder_tax_code = StringField(_l("Codice fiscale dell'intestatario (se non sei tu)"),
                                  filters=[clean_text])
    accept = BooleanField(_l("Ho letto il testo del mandato e lo sottoscrivo"))
    clean = None

    def validate_iban(self, field):
        try:
            self.clean = payments.clean_iban(field.data)
        except payments.IbanError as error:
            raise ValidationError(str(error)) from None

    def validate_holder_tax_code(self, field):
        if field.data:
            try:
                field.data = parse_tax_code(field.data.upper())
            except BadValue:
                raise ValidationError(_("Il codice fiscale non è valido: 16 caratteri per una "
                                        "persona, 11 cifre per una società.")) from None

    def validate_accept(self, field):
        if not field.data:
            raise ValidationError(_("Per attivare la domiciliazione conferma il testo del "
                                    "mandato."))


def _mandate_page(supply_point, form, status=200, error=None):
    mandates = (list(DirectDebitMandate.for_supply_point(supply_point, current_user.id))
                if supply_point else [])
    return render_page(
        "payments/mandate.html", supply_point=supply_point, form=form, mandates=mandates,
        open_request=supply_point and payments.open_request(supply_point, current_user.id),
        active=supply_point and payments.active_mandate(supply_point, current_user.id),
        mandate_text=payments.mandate_text(),
        error=error,
    ), status


@bp.get("/domiciliazione")
@bp.post("/domiciliazione")
@customer_required
def mandate():
    """Domiciliazione bancaria: the point's mandates, and a new one (or a change)."""
    supply_point = selected_supply_point()
    form = MandateForm()
    if supply_point is not None and supply_point.is_ceased:
        # The point is another holder's now: a mandate is theirs to sign.
        status = 422 if request.method == "POST" else 200
        return _mandate_page(supply_point, form, status,
                             error=str(POINT_CEASED) if request.method == "POST" else None)
    if supply_point is not None and form.validate_on_submit():
        result_url = url_for("payments.mandate", punto=supply_point.code)
        try:
            _created, first_result = create_once(form, lambda submission: payments.sign_mandate(
                current_user._get_current_object(), supply_point, form.clean,
                form.account_holder.data, form.holder_tax_code.data, submission),
                lambda created: result_url)
        except ValueError as error:
            # Another tab or a colleague sent one meanwhile: nothing typed was wrong.
            return _mandate_page(supply_point, form, 422, error=str(error))
        flash(str(ALREADY_SENT) if first_result else
              _("Mandato sottoscritto: la richiesta di domiciliazione è stata inviata e "
                "risulta in attesa di conferma. Puoi scaricare il mandato in PDF."), "success")
        return htmx_redirect(first_result or result_url)
    status = 422 if request.method == "POST" else 200
    return _mandate_page(supply_point, form, status)


def _own_mandate(mandate_id):
    return or_404(DirectDebitMandate.get_for_customer(mandate_id, current_user.id))


@bp.get("/domiciliazione/<int:mandate_id>/mandato.pdf")
@customer_required
def mandate_pdf(mandate_id):
    """The signed-off mandate as a PDF named after its reference."""
    mandate = _own_mandate(mandate_id)
    response = make_response(payments.mandate_pdf(mandate))
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = (f'attachment; filename="Mandato-SEPA-'
                                               f'{mandate.reference}.pdf"')
    return response


@bp.post("/domiciliazione/<int:mandate_id>/revoca")
@customer_required
def revoke(mandate_id):
    """Ask the billing system to end an active mandate."""
    mandate = _own_mandate(mandate_id)
    if payments.request_revocation(mandate):
        flash(_("Richiesta di revoca inviata: la domiciliazione resta attiva fino alla "
                "conferma."), "success")
    else:
        flash(_("Questa domiciliazione non è attiva: non c'è niente da revocare."), "error")
    return htmx_redirect(url_for("payments.mandate",
                                 punto=mandate.supply_point.code), 303)


# --- Back-office: the queue of reported payments -----------------------------------------

REPORT_VIEWS = {"": "Da verificare", "verificati": "Verificati"}
NOTE_MAX = MAX_MESSAGE


class VerifyForm(FlaskForm):
    note = TextAreaField("Nota (facoltativa)", [Length(
        max=NOTE_MAX, message=f"La nota può avere al massimo {NOTE_MAX} caratteri.")],
        filters=[clean_text])


def _render_reports(shown, status=200, invalid=None):
    """The queue (or the verified ones); `invalid` is the report whose form failed."""
    reports = payments.handled_reports() if shown else payments.open_reports()
    return render_page("backoffice/payment_reports.html", reports=list(reports), shown=shown,
                       views=REPORT_VIEWS, invalid=invalid), status


@backoffice_bp.get("/pagamenti-segnalati")
@operator_required()
def payment_reports():
    """Pagamenti segnalati: the receipts to verify, oldest first, or the verified ones."""
    shown = request.args.get("stato", "")
    if shown not in REPORT_VIEWS:
        shown = ""
    return _render_reports(shown)


@backoffice_bp.post("/pagamenti-segnalati/<int:report_id>/verifica")
@operator_required()
def verify_payment_report(report_id):
    """Mark a reported payment verified (with an optional note): it leaves the queue."""
    payment_report = get_or_404(PaymentReport, PaymentReport.id == report_id)
    form = VerifyForm()
    if not form.validate_on_submit():
        return _render_reports("", 422, invalid=(payment_report.id, form))
    if not payments.verify_report(payment_report, current_user.id, form.note.data):
        return done("Questa segnalazione era già stata verificata.",
                    "backoffice.payment_reports", "info")
    audit_action("operator_verify_payment_report", customer=payment_report.customer_id,
                 detail=f"payment report {payment_report.id}"
                        + (f": {form.note.data}" if form.note.data else ""))
    return done(f"Pagamento segnalato per la fattura {payment_report.invoice.number} "
                "segnato come verificato.", "backoffice.payment_reports")


@backoffice_bp.get("/pagamenti-segnalati/<int:report_id>/ricevuta")
@operator_required()
def payment_receipt(report_id):
    """The receipt a customer sent, as a download."""
    payment_report = PaymentReport.get_or_none(PaymentReport.id == report_id)
    if payment_report is None:
        abort(404)
    audit_action("operator_view_payment_report", customer=payment_report.customer_id,
                 detail=f"payment report {payment_report.id}")
    path = stored_file(payment_report.file_path)
    if path is None:
        return render_error(404, ATTACHMENT_MISSING)
    content_type = (payment_report.content_type
                    if payment_report.content_type in attachments.CONTENT_TYPES
                    else "application/octet-stream")
    return send_file(path, mimetype=content_type, as_attachment=True,
                     download_name=payment_report.file_name, max_age=0)
