"""Prelievi Fatturati: billed energy and power per year, as a chart or a table."""
from flask import Blueprint, Response, abort, request

from portal import charts, consumption
from models import BilledConsumption, held_days
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("consumption", __name__)

VIEWS = ("grafico", "tabella")


def billed_rows(supply_point):
    """The point's billed periods of the customer's holding as tuples, oldest first
    (a few dozen rows)."""
    return BilledConsumption.periods_of(supply_point, *held_days(supply_point))


def chosen_year(years):
    """The year asked for (?anno=), else the latest with data. A year that is not a
    number or has no data falls back to the latest: a filter never errors."""
    asked = request.args.get("anno", "")
    if asked.isascii() and asked.isdigit() and len(asked) == 4 and int(asked) in years:
        return int(asked)
    return years[0]


@bp.get("/prelievi")
@customer_required
def index():
    """Prelievi Fatturati of the selected supply point for one year."""
    supply_point = selected_supply_point()
    context = dict(supply_point=supply_point, years=[], billed=None)
    if supply_point is not None:
        rows = billed_rows(supply_point)
        years = consumption.billed_years(rows)
        if years:
            year = chosen_year(years)
            view = request.args.get("vista")
            view = view if view in VIEWS else "grafico"
            billed = consumption.billed_year(rows, year)
            context.update(years=years, year=year, view=view, billed=billed,
                           asked_year=request.args.get("anno"))
            if view == "grafico":
                context["figure_json"] = charts.figure_json(consumption.consumption_figure_data(billed))
    return render_page("consumption/index.html", **context)


@bp.get("/prelievi/csv")
@customer_required
def download():
    """The billed periods of one year as CSV."""
    supply_point = selected_supply_point()
    if supply_point is None:
        abort(404)
    rows = billed_rows(supply_point)
    years = consumption.billed_years(rows)
    if not years:
        abort(404)
    year = chosen_year(years)
    billed = consumption.billed_year(rows, year)
    response = Response(consumption.consumption_csv(billed), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="prelievi-{supply_point.code}-{year}.csv"')
    return response
