"""Paying bills: the utility's bank transfer (causale, EPC QR), pagoPA notices, payment
links, direct-debit mandates (IBAN check, PDF, export to billing) and payment reports."""
import csv
import io
import logging
import os
import re
import secrets
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import segno
import segno.helpers
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from peewee import JOIN
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError

from models import (Customer, DirectDebitMandate, Invoice, Operator, PaymentReport, SupplyPoint,
                    db, utcnow)
from portal import attachments
from portal.formatting import local_datetime, page_language

log = logging.getLogger("area_clienti.payments")

# The EPC QR (EPC069-12) carries at most 140 characters of remittance text and 70 of name.
EPC_TEXT_MAX = 140
EPC_NAME_MAX = 70

# The Italian BBAN's CIN: a letter over ABI, CAB and account (Banca d'Italia). Odd
# positions (1st, 3rd, ...) weigh by this table, even ones by their place in 0-9 / A-Z.
_CIN_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10,
            22, 25, 24, 23]
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

IBAN_INVALID = _l("L'IBAN non è valido: controlla di averlo copiato per intero (27 "
                  "caratteri per un conto italiano, inizia con IT).")
IBAN_CIN_WRONG = _l("L'IBAN non è valido: il carattere di controllo CIN (la lettera dopo "
                    "le prime quattro cifre) non corrisponde al conto.")
MANDATE_OPEN = _l("Una richiesta di domiciliazione per questo punto è già in corso: "
                  "attendi l'esito prima di inviarne un'altra.")

# The text the customer confirms and the PDF repeats (SEPA Core Direct Debit).
MANDATE_TEXT = _l(
    "La sottoscrizione del presente mandato comporta l'autorizzazione a %(creditor)s a "
    "richiedere alla banca del debitore l'addebito del suo conto e l'autorizzazione alla "
    "banca del debitore di procedere a tale addebito conformemente alle disposizioni "
    "impartite da %(creditor)s. Il debitore ha diritto di richiedere il rimborso alla "
    "propria banca secondo gli accordi ed alle condizioni che regolano il rapporto con "
    "quest'ultima. Se del caso, il rimborso deve essere richiesto nel termine di 8 "
    "settimane a decorrere dalla data di addebito in conto.")


def mandate_text():
    """The mandate text with the creditor's name, in the current language. A name that
    ends with its own full stop (S.p.A.) ends the sentence too: no '..'."""
    creditor = current_app.config["COMPANY_NAME"]
    text = str(MANDATE_TEXT) % {"creditor": creditor}
    return text.replace(f"{creditor}.", creditor) if creditor.endswith(".") else text


class IbanError(ValueError):
    """The IBAN is not acceptable; the message is for the customer."""


def italian_cin(bban_rest):
    """The CIN letter of an Italian account: ABI (5) + CAB (5) + account (12)."""
    total = 0
    for position, character in enumerate(bban_rest.upper()):
        value = _ALPHABET.index(character)
        if position % 2 == 0:
            total += _CIN_ODD[value % 10 if value < 10 else value - 10]
        else:
            total += value % 10 if value < 10 else value - 10
    return chr(ord("A") + total % 26)


def clean_iban(text):
    """The IBAN written compact and upper-case, or IbanError. python-stdnum checks the
    format of the country and the two IBAN check digits (mod 97); it does not check
    the Italian CIN, so that is done here (an IBAN with a wrong CIN can still pass
    mod 97: the check digits are computed over the wrong CIN)."""
    compact = re.sub(r"[\s.-]", "", text or "").upper()
    try:
        compact = stdnum_iban.validate(compact)
    except StdnumError:
        raise IbanError(IBAN_INVALID) from None
    if compact.startswith("IT") and italian_cin(compact[5:]) != compact[4]:
        raise IbanError(IBAN_CIN_WRONG)
    return compact


def mask_iban(iban):
    """What pages show of an IBAN: country and last four characters."""
    compact = re.sub(r"\s", "", iban or "").upper()
    if len(compact) < 8:
        return compact
    return f"{compact[:2]}..{compact[-4:]}"


# --- Bank transfer ---------------------------------------------------------------

class Transfer:
    """One bank transfer paying `invoices`: the utility's account, the total and the
    causale listing the invoice numbers."""

    def __init__(self, invoices, customer):
        self.invoices = list(invoices)
        config = current_app.config
        self.iban = config["PAYMENT_IBAN"]
        self.bic = config["PAYMENT_BIC"]
        self.beneficiary = config["PAYMENT_BENEFICIARY"]
        self.amount = sum((Decimal(invoice.amount) for invoice in self.invoices), Decimal("0"))
        numbers = ", ".join(invoice.number for invoice in self.invoices)
        self.causale = config["PAYMENT_CAUSALE"].format(numbers=numbers, customer=customer.code)

    @property
    def amount_typed(self):
        """The amount as one types it into a bank's transfer form: no thousands
        separator, the page's decimal mark (1234,56 in Italian, 1234.56 in English)."""
        text = f"{self.amount:.2f}"
        return text.replace(".", ",") if page_language() == "it" else text

    @property
    def fits_qr(self):
        return len(self.causale) <= EPC_TEXT_MAX and self.amount > 0

    def epc_qr(self):
        """The EPC "SEPA credit transfer" QR code banking apps scan."""
        return segno.helpers.make_epc_qr(name=self.beneficiary[:EPC_NAME_MAX], iban=self.iban,
                                         amount=self.amount, text=self.causale,
                                         bic=self.bic or None, encoding="utf-8")


# The pagoPA notice QR, as published by PagoPA S.p.A. in "Avviso di pagamento pagoPA",
# Allegato 2, Specifiche tecniche > Dati per il pagamento > Codice QR
# (docs.pagopa.it/avviso-pagamento, avvisi 3.x): the string
# PAGOPA|002|<codice avviso, 18>|<codice fiscale ente creditore, 11>|<importo>, the
# amount in euro cents with no separator, 2 to 11 characters; symbol version 4
# (33x33 modules), error correction M, UTF-8.
PAGOPA_AMOUNT_DIGITS = (2, 11)
PAGOPA_QR_VERSION = 4


def pagopa_text(invoice):
    """The pagoPA notice QR's text, or None when the amount cannot be paid that way
    (nothing to pay, or more digits than the format holds)."""
    cents = int((Decimal(invoice.amount) * 100).to_integral_value())
    amount = f"{cents:0{PAGOPA_AMOUNT_DIGITS[0]}d}"
    if cents <= 0 or len(amount) > PAGOPA_AMOUNT_DIGITS[1]:
        return None
    return f"PAGOPA|002|{invoice.pagopa_notice}|{invoice.pagopa_creditor}|{amount}"


def pagopa_qr(invoice):
    """The notice's QR code in the published symbol: version 4, level M (the longest
    text, 11 digits of amount, is 53 bytes: version 4-M holds 62)."""
    text = pagopa_text(invoice)
    if text is None:
        return None
    return segno.make_qr(text, error="m", version=PAGOPA_QR_VERSION, boost_error=False)


def svg_of(qr, title):
    """The QR code as a standalone SVG document (served as an image: no inline style
    or script, so the page's CSP holds)."""
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, border=4, title=title, dark="#000", light="#fff")
    return out.getvalue()


def allowed_payment_link(url):
    """The invoice's payment link when it is https to a host of PAYMENT_LINK_HOSTS."""
    if not url:
        return None
    hosts = {host.strip().lower() for host in current_app.config["PAYMENT_LINK_HOSTS"].split(",")
             if host.strip()}
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme != "https" or host not in hosts or parts.username or parts.password:
        return None
    return url


# --- Direct debit ----------------------------------------------------------------

def new_reference():
    """A unique mandate reference (SEPA: at most 35 characters)."""
    return f"ACM-{utcnow():%Y%m%d}-{secrets.token_hex(5).upper()}"


def open_request(supply_point, customer):
    """A request of the point still waiting for the billing system, or None."""
    return (DirectDebitMandate.for_supply_point(supply_point, customer)
            .where(DirectDebitMandate.status.in_([DirectDebitMandate.PENDING,
                                                  DirectDebitMandate.REVOKING]))
            .first())


def active_mandate(supply_point, customer):
    return (DirectDebitMandate.for_supply_point(supply_point, customer)
            .where(DirectDebitMandate.status == DirectDebitMandate.ACTIVE).first())


def sign_mandate(customer, supply_point, iban, account_holder, holder_tax_code, submission):
    """A new mandate waiting for the export (a change of IBAN is a new mandate; the old
    one stays active until the billing system confirms the new)."""
    with db.atomic():
        if open_request(supply_point, customer) is not None:
            raise ValueError(str(MANDATE_OPEN))
        mandate = DirectDebitMandate.create(
            reference=new_reference(), customer=customer, supply_point=supply_point,
            iban=iban, account_holder=account_holder, holder_tax_code=holder_tax_code or None)
        submission.record(mandate)
    return mandate


def request_revocation(mandate):
    """Ask the billing system to end an active mandate; False when it is not active."""
    return bool(DirectDebitMandate
                .update(status=DirectDebitMandate.REVOKING, revoke_requested_at=utcnow())
                .where((DirectDebitMandate.id == mandate.id)
                       & (DirectDebitMandate.status == DirectDebitMandate.ACTIVE))
                .execute())


NEXT_LINE = dict(new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def mandate_pdf(mandate):
    """The signed-off mandate as a PDF (Italian: a contract document, like the invoices)."""
    config = current_app.config
    customer = Customer.get_by_id(mandate.customer_id)
    point = SupplyPoint.get_by_id(mandate.supply_point_id)
    pdf = FPDF(format="A4")
    pdf.set_title(f"Mandato SEPA {mandate.reference}")
    pdf.set_author(config["COMPANY_NAME"])
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, "Mandato per addebito diretto SEPA (SDD Core)", **NEXT_LINE)
    pdf.set_font("Helvetica", "", 11)
    pdf.ln(2)
    signed = local_datetime(mandate.signed_at)
    rows = [
        ("Riferimento del mandato", mandate.reference),
        ("Creditore", config["COMPANY_NAME"]),
        ("Indirizzo del creditore", config["COMPANY_ADDRESS"]),
        ("Codice identificativo del creditore", config["MANDATE_CREDITOR_ID"]),
        ("Cliente", f"{customer.name} (codice cliente {customer.code})"),
        ("Punto di fornitura", f"{point.code} - {point.pdr_pod}"),
        ("Intestatario del conto", mandate.account_holder),
        ("Codice fiscale dell'intestatario", mandate.holder_tax_code or customer.tax_code),
        ("IBAN del conto da addebitare", mandate.iban),
        ("Tipo di pagamento", "ricorrente"),
        ("Sottoscritto online il", f"{signed:%d/%m/%Y alle %H:%M}"),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(75, 7, label)
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 7, _latin1(value), **NEXT_LINE)
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    with force_locale("it"):
        # The PDF is a contract document: Italian whatever the page's language.
        text = mandate_text()
    pdf.multi_cell(0, 5, _latin1(text), **NEXT_LINE)
    pdf.ln(4)
    pdf.multi_cell(0, 5, _latin1(
        "Il debitore ha confermato il testo del mandato nell'Area Clienti, autenticato "
        "con il proprio codice cliente e la propria password. La domiciliazione diventa "
        "attiva quando il creditore ne conferma l'esito."), **NEXT_LINE)
    return bytes(pdf.output())


def _latin1(text):
    """The PDF's core fonts speak Latin-1: anything else becomes '?'."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


EXPORT_COLUMNS = ("reference", "request", "customer_code", "supply_point_code", "pdr_pod",
                  "iban", "account_holder", "holder_tax_code", "signed_at")


def export_mandates(export_dir):
    """Write the mandate requests not sent yet (new mandates and revocations) to a new
    file in `export_dir` and mark them sent, in one transaction; the file is in place
    before the commit and removed if the commit fails. Returns (path, count) or None."""
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    path = None
    try:
        with db.atomic():
            now = utcnow()
            new = (DirectDebitMandate
                   .update(exported_at=now)
                   .where((DirectDebitMandate.status == DirectDebitMandate.PENDING)
                          & DirectDebitMandate.exported_at.is_null())
                   .execute())
            revoked = (DirectDebitMandate
                       .update(revoke_exported_at=now)
                       .where((DirectDebitMandate.status == DirectDebitMandate.REVOKING)
                              & DirectDebitMandate.revoke_exported_at.is_null())
                       .execute())
            if not new and not revoked:
                return None
            rows = list(DirectDebitMandate
                        .select(DirectDebitMandate, Customer, SupplyPoint)
                        .join(Customer).switch(DirectDebitMandate).join(SupplyPoint)
                        .where((DirectDebitMandate.exported_at == now)
                               | (DirectDebitMandate.revoke_exported_at == now))
                        .order_by(DirectDebitMandate.id))
            path = export_dir / f"mandates-{local_datetime(now):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.csv"
            _write_export(path, rows, now)
    except BaseException:
        if path is not None and path.exists():
            path.unlink()
        raise
    log.info("mandates: %d requests exported to %s", len(rows), path)
    return path, len(rows)


def _write_export(path, rows, now):
    temporary = path.with_name(f".{path.stem}.partial")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for mandate in rows:
            revoking = mandate.revoke_exported_at == now
            writer.writerow([
                mandate.reference, "revoca" if revoking else "attivazione",
                mandate.customer.code, mandate.supply_point.code, mandate.supply_point.pdr_pod,
                mandate.iban, mandate.account_holder, mandate.holder_tax_code or "",
                local_datetime(mandate.signed_at).strftime("%Y-%m-%d %H:%M"),
            ])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    attachments.fsync_directory(path.parent)


# --- Payment reports ---------------------------------------------------------------

def report_payment(invoice, customer, upload, submission):
    """Store the receipt and record the report, once per submission."""
    relative = attachments.store(current_app.config["FILES_DIR"], "payment-reports", upload)
    try:
        with db.atomic():
            report = PaymentReport.create(invoice=invoice, customer=customer,
                                          file_path=relative, file_name=upload.name,
                                          content_type=upload.content_type)
            submission.record(report)
    except BaseException:
        attachments.remove(current_app.config["FILES_DIR"], relative)
        raise
    return report


def open_reports():
    """The reports nobody has verified yet whose invoice is still unpaid, oldest first:
    the back-office queue."""
    return (PaymentReport
            .select(PaymentReport, Invoice, Customer)
            .join(Invoice).switch(PaymentReport).join(Customer)
            .where((Invoice.paid == False)  # noqa: E712 (Peewee expression)
                   & PaymentReport.handled_at.is_null())
            .order_by(PaymentReport.reported_at))


def handled_reports():
    """The reports an operator verified, last verified first."""
    return (PaymentReport
            .select(PaymentReport, Invoice, Customer, Operator)
            .join(Invoice).switch(PaymentReport).join(Customer)
            .switch(PaymentReport).join(Operator, JOIN.LEFT_OUTER)
            .where(PaymentReport.handled_at.is_null(False))
            .order_by(PaymentReport.handled_at.desc(), PaymentReport.id.desc()))


def verify_report(payment_report, operator, note):
    """Mark a report verified by `operator`, once: False when somebody already did.
    The invoice is untouched: only the billing system's import makes it paid."""
    return bool(PaymentReport
                .update(handled_at=utcnow(), handled_by=operator, handled_note=note or None)
                .where((PaymentReport.id == payment_report.id)
                       & PaymentReport.handled_at.is_null())
                .execute())
