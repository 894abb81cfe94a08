"""Elenco fatture: the supply point's invoices and their PDFs."""
from flask import Blueprint, abort, request
from flask_login import current_user

from app import render_error
from views.downloads import download_name, send_attachment, stored_file
from views.invoice_list import FIRST_YEAR, InvoiceListing
from models import Invoice
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("invoices", __name__)

PDF_MISSING = ("Il PDF di questa fattura non è al momento disponibile: contatta il "
               "servizio clienti.")


@bp.get("/fatture")
@customer_required
def index():
    """Elenco fatture of the selected supply point, by year, a page at a time."""
    supply_point = selected_supply_point()
    listing = None
    if supply_point is not None:
        listing = InvoiceListing(supply_point,
                                 year=request.args.get("anno", type=int),
                                 page=request.args.get("pagina", type=int))
    return render_page("invoices/index.html", supply_point=supply_point, listing=listing,
                       first_year=FIRST_YEAR)


@bp.get("/fatture/<int:invoice_id>/pdf")
@customer_required
def pdf(invoice_id):
    """The invoice's PDF as an attachment named after its number."""
    selected_supply_point()
    invoice = Invoice.get_for_customer(invoice_id, current_user.id)
    if invoice is None or not invoice.pdf_path:
        abort(404)
    path = stored_file(invoice.pdf_path)
    if path is None:
        return render_error(404, PDF_MISSING)
    return send_attachment(path, download_name(f"Fattura-{invoice.number}", "fattura.pdf"))
