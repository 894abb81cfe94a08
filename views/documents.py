"""I miei documenti and Modulistica: lists and downloads."""
from flask import Blueprint, abort
from flask_login import current_user

from app import render_error
from views.downloads import download_name, send_attachment, stored_file
from models import Document, Form
from views import customer_required, get_or_404, render_page, selected_supply_point

bp = Blueprint("documents", __name__)

FILE_MISSING = ("Questo documento non è al momento disponibile: contatta il servizio "
                "clienti.")


def _send_stored(title, relative_path):
    """The stored file as an attachment named after its title, or a clear message."""
    path = stored_file(relative_path)
    if path is None:
        return render_error(404, FILE_MISSING)
    return send_attachment(path, download_name(title, relative_path))


@bp.get("/documenti")
@customer_required
def index():
    """I miei documenti: the files published to this customer."""
    selected_supply_point()
    return render_page("documents/index.html",
                       documents=Document.list_for(current_user.id))


@bp.get("/documenti/<int:document_id>")
@customer_required
def download(document_id):
    """One of the customer's documents, as an attachment."""
    selected_supply_point()
    document = (Document
                .select()
                .where((Document.id == document_id) & (Document.customer == current_user.id))
                .first())
    if document is None:
        abort(404)
    return _send_stored(document.title, document.file_path)


@bp.get("/modulistica")
@customer_required
def forms():
    """Modulistica: the forms published to every customer."""
    selected_supply_point()
    return render_page("documents/forms.html", forms=list(Form.in_order()))


@bp.get("/modulistica/<int:form_id>")
@customer_required
def form_download(form_id):
    """One form of the Modulistica, as an attachment."""
    selected_supply_point()
    form = get_or_404(Form, Form.id == form_id)
    return _send_stored(form.title, form.file_path)
