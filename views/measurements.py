"""Misure elettriche: interval data of electricity meters, as a chart at a resolution
that suits the range, totals by time band and a CSV of the raw data."""
import datetime
import itertools

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, Form
from wtforms.validators import ValidationError

from portal import charts, measurements, timebands
import models
from models import held_days, rome_now
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("measurements", __name__)

DEFAULT_DAYS = 7
FIRST_DATE = datetime.date(2000, 1, 1)
LAST_DATE = datetime.date(2099, 12, 31)


class PeriodDateField(DateField):
    """A date as the browser sends it (2024-03-31) or as a person types it
    (31/03/2024); left empty it keeps its default."""

    def __init__(self, label, **kwargs):
        super().__init__(label, format=["%Y-%m-%d", "%d/%m/%Y"],
                         invalid_value_message=_l("Data non valida: usa il formato gg/mm/aaaa."),
                         **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not "".join(valuelist).strip():
            self.raw_data = []
            return
        super().process_formdata([" ".join(valuelist).strip()])

    def pre_validate(self, form):
        if self.data is not None and not FIRST_DATE <= self.data <= LAST_DATE:
            raise ValidationError(_("Indica una data tra il %(first)s e il %(last)s.",
                                    first=FIRST_DATE.strftime("%d/%m/%Y"),
                                    last=LAST_DATE.strftime("%d/%m/%Y")))


class PeriodForm(Form):
    """The Dal/Al filter: a GET that changes nothing, hence a plain WTForms form
    without a CSRF token (the values stay in the URL, so it can be bookmarked)."""

    dal = PeriodDateField(_l("Dal"))
    al = PeriodDateField(_l("Al"))

    def validate_al(self, field):
        if self.dal.data and field.data and field.data < self.dal.data and not self.dal.errors:
            raise ValidationError(_("La data «Al» non può precedere la data «Dal»."))


def period_form(supply_point):
    """The Dal/Al filter from the query string; by default the last 7 days the customer
    held the point."""
    last = min(rome_now().date(), held_days(supply_point)[1])
    return PeriodForm(request.args, dal=last - datetime.timedelta(days=DEFAULT_DAYS - 1),
                      al=last)


def held_range(supply_point, form):
    """(first, last) day of the asked range inside the customer's holding, or None
    (with the reason beside «Dal») when none of it is."""
    held_first, held_last = held_days(supply_point)
    first, last = max(form.dal.data, held_first), min(form.al.data, held_last)
    if first > last:
        held = " ".join(([_("dal %(day)s", day=held_first.strftime("%d/%m/%Y"))]
                         if supply_point.held_from else [])
                        + ([_("al %(day)s", day=held_last.strftime("%d/%m/%Y"))]
                           if supply_point.held_until else []))
        form.dal.errors = [_("Puoi consultare solo le misure del periodo in cui sei stato "
                             "titolare del punto (%(held)s).", held=held)]
        return None
    return first, last


def page_context(supply_point, form, series=None):
    today = rome_now().date()
    last = min(today, held_days(supply_point)[1])
    shortcuts = [(label, last - datetime.timedelta(days=days - 1), last)
                 for label, days in ((_("Ultimi 7 giorni"), 7), (_("Ultimi 31 giorni"), 31),
                                     (_("Ultimi 12 mesi"), 365))]
    context = dict(supply_point=supply_point, form=form, series=series, shortcuts=shortcuts, today=today,
                   bands=timebands.BANDS, band_hours=timebands.BAND_HOURS)
    if series is not None:
        context["figure_json"] = charts.figure_json(measurements.measurement_figure_data(series))
    return context


def electricity_point():
    """The selected supply point if it is an electricity one."""
    supply_point = selected_supply_point()
    if supply_point is None or not supply_point.is_electricity:
        abort(404)
    return supply_point


@bp.get("/misure")
@customer_required
def index():
    """Misure elettriche of the selected point between two dates."""
    supply_point = selected_supply_point()
    if supply_point is None:
        abort(404)
    if not supply_point.is_electricity:
        # The point picker may land here with a gas point: say why there is nothing.
        return render_page("measurements/not_electricity.html", supply_point=supply_point), 404
    form = period_form(supply_point)
    days = form.validate() and held_range(supply_point, form)
    if not days:
        return render_page("measurements/index.html", **page_context(supply_point, form)), 422
    series = measurements.measurement_series(supply_point, *days)
    return render_page("measurements/index.html", **page_context(supply_point, form, series))


@bp.get("/misure/csv")
@customer_required
def download():
    """The raw interval data of the range as CSV, streamed row by row."""
    supply_point = electricity_point()
    form = period_form(supply_point)
    days = form.validate() and held_range(supply_point, form)
    if not days:
        return render_template("measurements/index.html",
                               **page_context(supply_point, form)), 422
    first_day, last_day = days
    start = timebands.midnight_timestamp(first_day)
    end = timebands.midnight_timestamp(last_day + datetime.timedelta(days=1))
    query = measurements.interval_rows_prepared.node(supply_point.id, start, end)

    def batches():
        # The request's connection closed when the view returned; the stream opens its
        # own, and the request teardown closes it again when the stream ends.
        models.db.connect(reuse_if_open=True)
        # Rows go from the cursor to the client a batch at a time, never all in memory.
        yield from measurements.stream_batches(query)

    rows = itertools.chain.from_iterable(batches())
    body = stream_with_context(measurements.measurement_csv(rows))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="misure-{supply_point.pdr_pod}-{first_day:%Y%m%d}-{last_day:%Y%m%d}.csv"')
    return response
