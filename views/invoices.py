"""Elenco fatture: the supply point's invoices since 2014, a year and a page at a
time, their PDFs, and one invoice with how to pay it."""
import collections
import datetime
import math

from flask import Blueprint, abort, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import Invoice, PaymentReport, Prepared, id_of
from portal.payments import mask_iban
from views import customer_required, render_page, requested_page, selected_supply_point
from views.downloads import send_stored
from views.payments import how_to_pay, own_invoice

bp = Blueprint("invoices", __name__)

PDF_MISSING = _l("Il PDF di questa fattura non è al momento disponibile: contatta il "
                 "servizio clienti.")
FIRST_YEAR = 2014
SINCE = datetime.date(FIRST_YEAR, 1, 1)
PER_PAGE = 12

# The dates of every invoice (an index-only scan: a few hundred at most) give the
# years and the counts of the filter and the pager in one query.
_invoice_dates = Prepared(lambda supply_point, customer, since: Invoice
                          .select(Invoice.date)
                          .where((Invoice.supply_point == supply_point)
                                 & (Invoice.customer == customer) & (Invoice.date >= since)))
_page_of_all = Prepared(lambda supply_point, customer, since, limit, offset: Invoice
                        .for_supply_point(supply_point, customer)
                        .where(Invoice.date >= since)
                        .limit(limit).offset(offset))
_page_of_year = Prepared(lambda supply_point, customer, since, first, last, limit, offset: Invoice
                         .for_supply_point(supply_point, customer)
                         .where((Invoice.date >= since) & Invoice.date.between(first, last))
                         .limit(limit).offset(offset))


def _years_counted(supply_point, customer):
    return collections.Counter(day.year for (day,) in
                               _invoice_dates.tuples(id_of(supply_point), customer, SINCE))


class InvoiceListing:
    """The customer's invoices of the point, one page (newest first), with what the
    filter and pager need."""

    def __init__(self, supply_point, customer, year=None, page=1):
        customer = id_of(customer)
        counted = _years_counted(supply_point, customer)
        self.years = sorted(counted, reverse=True)
        # A year without invoices (or nonsense) shows every year rather than nothing.
        self.year = year if year in self.years else None
        self.total = counted[self.year] if self.year is not None else sum(counted.values())
        self.pages = max(1, math.ceil(self.total / PER_PAGE))
        self.page = min(max(page or 1, 1), self.pages)
        point = supply_point.id
        offset = (self.page - 1) * PER_PAGE
        if self.year is None:
            self.invoices = _page_of_all(point, customer, SINCE, PER_PAGE, offset)
        else:
            self.invoices = _page_of_year(point, customer, SINCE, datetime.date(self.year, 1, 1),
                                          datetime.date(self.year, 12, 31), PER_PAGE, offset)
        self.invoices = list(self.invoices)
        # When each unpaid invoice of the page was last reported paid by the customer.
        unpaid = [invoice.id for invoice in self.invoices if not invoice.paid]
        self.reported = {}
        if unpaid:
            for invoice_id, reported_at in (PaymentReport
                                            .select(PaymentReport.invoice, PaymentReport.reported_at)
                                            .where(PaymentReport.invoice.in_(unpaid))
                                            .order_by(PaymentReport.reported_at)
                                            .tuples()):
                self.reported[invoice_id] = reported_at

    @property
    def has_previous(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


@bp.get("/fatture")
@customer_required
def index():
    """Elenco fatture of the selected supply point, by year, a page at a time."""
    supply_point = selected_supply_point()
    listing = None
    if supply_point is not None:
        listing = InvoiceListing(supply_point, current_user.id,
                                 year=request.args.get("anno", type=int),
                                 page=requested_page())
    return render_page("invoices/index.html", supply_point=supply_point, listing=listing,
                       first_year=FIRST_YEAR, mask_iban=mask_iban)


@bp.get("/fatture/<int:invoice_id>")
@customer_required
def detail(invoice_id):
    """One invoice: its figures, its state and, while unpaid, how to pay it."""
    selected_supply_point()
    invoice = own_invoice(invoice_id)
    payment = how_to_pay(invoice) if not invoice.paid else None
    return render_page("invoices/detail.html", invoice=invoice, payment=payment)


@bp.get("/fatture/<int:invoice_id>/pdf")
@customer_required
def pdf(invoice_id):
    """The invoice's PDF as an attachment named after its number."""
    selected_supply_point()
    invoice = Invoice.get_for_customer(invoice_id, current_user.id)
    if invoice is None or not invoice.pdf_path:
        abort(404)
    return send_stored(invoice.pdf_path, f"Fattura-{invoice.number}", missing=PDF_MISSING)
