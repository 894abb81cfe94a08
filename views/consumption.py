"""Prelievi Fatturati: billed energy and power per year, as a chart or a table, and
plotly.js for every chart of the portal."""
import gzip
import importlib.resources
import threading

from flask import Blueprint, Response, abort, make_response, request, url_for

from portal import charts, consumption
from models import BilledConsumption
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("consumption", __name__)

VIEWS = ("grafico", "tabella")


def billed_rows(supply_point):
    """The point's billed periods as tuples, oldest first (a few dozen rows)."""
    return BilledConsumption.periods_of(supply_point)


def chosen_year(years):
    """The year asked for (?anno=), else the latest with data. A year that is not a
    number or has no data falls back to the latest: a filter never errors."""
    asked = request.args.get("anno", "")
    if asked.isascii() and asked.isdigit() and len(asked) == 4 and int(asked) in years:
        return int(asked)
    return years[0]


@bp.route("/prelievi")
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


@bp.route("/prelievi/csv")
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


# --- plotly.js -------------------------------------------------------------------------

_plotly_lock = threading.Lock()
_plotly_bundle = {}


def plotly_bundle():
    """plotly.min.js of the installed plotly package, plain and gzipped, read and
    compressed once per process (4.8 MB -> 1.5 MB)."""
    with _plotly_lock:
        if not _plotly_bundle:
            source = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
            plain = source.read_bytes()
            _plotly_bundle.update(plain=plain, gzip=gzip.compress(plain, 6, mtime=0))
    return _plotly_bundle


@bp.app_template_global()
def plotly_js_url():
    """The versioned URL of plotly.js: a new plotly release gets a new URL, so the
    browser may keep the file for a year."""
    return url_for("consumption.plotly_js", version=charts.PLOTLY_JS_VERSION)


@bp.route("/grafici/plotly-<version>.min.js")
def plotly_js(version):
    """plotly.js from the installed package: long cache lifetime, gzip when accepted."""
    if version != charts.PLOTLY_JS_VERSION:
        abort(404)
    bundle = plotly_bundle()
    compressed = request.accept_encodings["gzip"] > 0
    response = make_response(bundle["gzip"] if compressed else bundle["plain"])
    response.content_type = "text/javascript; charset=utf-8"
    if compressed:
        response.content_encoding = "gzip"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.vary.add("Accept-Encoding")
    response.set_etag(f"plotly-{version}-{'gzip' if compressed else 'plain'}")
    return response.make_conditional(request)
