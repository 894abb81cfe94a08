"""Dati Tecnici and Dati Contrattuali of the selected supply point."""
from flask import Blueprint
from flask_login import current_user

from views.supply_details import detail_rows
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("supply", __name__)


@bp.get("/dati-tecnici")
@customer_required
def technical():
    """Dati Tecnici of the selected supply point, read-only."""
    supply_point = selected_supply_point()
    rows = detail_rows(supply_point.technical_data) if supply_point else []
    return render_page("supply/technical.html", supply_point=supply_point, rows=rows)


@bp.get("/dati-contrattuali")
@customer_required
def contract():
    """Dati Contrattuali of the selected supply point, read-only."""
    supply_point = selected_supply_point()
    rows = detail_rows(supply_point.contract_data) if supply_point else []
    return render_page("supply/contract.html", supply_point=supply_point, rows=rows,
                       customer=current_user)
