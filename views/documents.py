"""I miei documenti and Modulistica: lists and downloads."""
from flask import Blueprint, abort
from flask_login import current_user

from models import Document, Form
from views import customer_required, get_or_404, render_page, selected_supply_point
from views.downloads import send_stored

bp = Blueprint("documents", __name__)


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
    return send_stored(document.file_path, document.title)


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
    return send_stored(form.file_path, form.title)
