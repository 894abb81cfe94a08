"""Autolettura Contatore: gas self-readings, the reading windows, delete until acquired."""
import json

from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from jinja2_fragments.flask import render_block
from wtforms import StringField

from models import ReadingWindow, SelfReading, SupplyPoint, rome_now
from portal.formatting import local_date
from portal.readings import (READINGS_PER_PAGE, WINDOWS_PER_PAGE, delete_pending, form_notices,
                             get_for_customer, rows_per_page, still_held, submit)
from views import (CreatingForm, Pager, create_once, customer_required, htmx_redirect, is_htmx,
                   or_404, render_page, requested_page, selected_supply_point)
from views.downloads import send_meter_photo

bp = Blueprint("readings", __name__)

PAGE = "readings/index.html"

READING_URL = "/autolettura/<int:reading_id>/cancella"

ALREADY_ACQUIRED = _l("La lettura del {day} è già stata acquisita e non può più essere "
                      "cancellata.")
POINT_CEASED = _l("La fornitura del punto {code} è cessata: la lettura del {day} non può più "
                  "essere cancellata.")


class ReadingForm(CreatingForm):
    # Text, not IntegerField: the rules and their messages live in portal/readings.py.
    meter_reading = StringField(_l("Lettura contatore"))
    corrector_reading = StringField(_l("Lettura correttore"))
    # Checked (and shrunk, EXIF stripped) by portal/readings.py with the rest.
    photo = FileField(_l("Foto del contatore (facoltativa)"))


def _page_context(supply_point, **extra):
    """Everything the page and each of its fragments need for this gas point."""
    now = rome_now()
    reading_rows = rows_per_page(request.values.get("righe"), READINGS_PER_PAGE)
    window_rows = rows_per_page(request.values.get("righe_periodi"), WINDOWS_PER_PAGE)
    customer = current_user.id
    readings = Pager.of(SelfReading.count_for(supply_point, customer),
                        lambda limit, offset: SelfReading.page_for(supply_point, customer,
                                                                   limit, offset),
                        reading_rows, page=requested_page())
    # Few windows: one query gives the list and the open one.
    not_over = ReadingWindow.not_over(supply_point, now)
    windows = Pager.of_list(not_over, window_rows, page=requested_page("pagina_periodi"))
    open_windows = [window for window in not_over if window.start_at <= now]
    state = dict(punto=supply_point.code, pagina=readings.page, righe=reading_rows,
                 pagina_periodi=windows.page, righe_periodi=window_rows)

    def list_url(**changes):
        return url_for("readings.index", **{**state, **changes})

    context = dict(
        supply_point=supply_point, now=now, readings=readings, windows=windows,
        # The latest started, as ReadingWindow.open_at chooses.
        open_window=max(open_windows, key=lambda window: window.start_at, default=None),
        reading_rows=reading_rows, window_rows=window_rows, list_url=list_url,
        reading_choices=READINGS_PER_PAGE,
        window_choices=WINDOWS_PER_PAGE,
        pending_on_screen=any(reading.is_pending for reading in readings.items),
        poll_seconds=current_app.config["READINGS_POLL_SECONDS"],
        form=None, form_open=False, notices=[], submission=None, saved=None)
    context.update(extra)
    return context


def _gas_point_or_explanation():
    """(gas supply point, None) or (None, the page explaining why there is no list)."""
    supply_point = selected_supply_point()
    if supply_point is None or not supply_point.is_gas:
        measurements = ("measurements.index" in current_app.view_functions
                        and url_for("measurements.index"))
        return None, render_page(PAGE, supply_point=supply_point,
                                 measurements_url=measurements)
    return supply_point, None


@bp.get("/autolettura")
@customer_required
def index():
    """Elenco Autoletture of the selected gas point and the reading windows."""
    supply_point, explanation = _gas_point_or_explanation()
    if explanation is not None:
        return explanation
    return render_page(PAGE, **_page_context(supply_point))


@bp.get("/autolettura/nuova")
@customer_required
def new():
    """The page with the "Aggiungi" form open (htmx opens it in place)."""
    supply_point, explanation = _gas_point_or_explanation()
    if explanation is not None:
        return explanation
    if supply_point.is_ceased:
        return render_page(PAGE, **_page_context(supply_point))
    return render_page(PAGE, **_page_context(
        supply_point, form=ReadingForm(formdata=None), form_open=True,
        notices=form_notices(supply_point, rome_now())))


@bp.post("/autolettura")
@customer_required
def create():
    """Salva: store the reading, or show each rule's message with the values kept."""
    supply_point = selected_supply_point()
    if supply_point is None or not supply_point.is_gas:
        abort(404)
    form = ReadingForm()
    typed = {"meter_reading": form.meter_reading.data,
             "corrector_reading": form.corrector_reading.data}
    submission, first_result = create_once(form, lambda once: submit(
        supply_point, typed, request.form.get("conferma", ""), photo=form.photo.data,
        photo_required=current_app.config["READING_PHOTO_REQUIRED"], submission=once),
        lambda reading: url_for("readings.index", punto=supply_point.code))
    if first_result:
        # A repeat of a Salva already done (a double click, a retry): the list shows it.
        return htmx_redirect(first_result)
    if submission.reading is not None:
        return _saved(supply_point, submission.reading)
    for name, messages in submission.errors.items():
        form[name].errors = list(messages)
    for name, warnings in submission.warnings.items():
        form[name].errors = [warning.message for warning in warnings]
    context = _page_context(supply_point, form=form, form_open=True, submission=submission)
    return render_page(PAGE, **context), 422


def _saved(supply_point, reading):
    """After Salva: htmx gets the closed form and, out of band, the list with the new
    row on top; without JavaScript, back to the list."""
    if not is_htmx():
        flash(_("Lettura del %(day)s salvata.", day=local_date(reading.reading_date)), "success")
        return redirect(url_for("readings.index", punto=supply_point.code), 303)
    context = _page_context(supply_point, saved=reading)
    return (render_block(PAGE, "reading_form", **context)
            + render_block(PAGE, "reading_list", oob=True, **context))


@bp.get("/autolettura/<int:reading_id>/foto")
@customer_required
def photo(reading_id):
    """The meter photo of one of the customer's readings, shown in the page."""
    reading = get_for_customer(reading_id, current_user.id)
    if reading is None or not reading.photo_path:
        abort(404)
    return send_meter_photo(reading)


@bp.get(READING_URL)
@customer_required
def confirm_delete(reading_id):
    """Without JavaScript: the seed's question before deleting a reading."""
    reading = or_404(get_for_customer(reading_id, current_user.id))
    return render_page("readings/delete.html", reading=reading, deletable=still_held(reading),
                       refusal=POINT_CEASED.format(code=reading.supply_point.code,
                                                   day=local_date(reading.reading_date)))


@bp.post(READING_URL)
@customer_required
def delete(reading_id):
    """Delete a reading still "Da acquisire"; an acquired one stays and says so."""
    deleted, reading = delete_pending(reading_id, current_user.id)
    if reading is None:
        abort(404)
    day = local_date(reading.reading_date)
    refusal = (ALREADY_ACQUIRED.format(day=day) if still_held(reading)
               else POINT_CEASED.format(code=reading.supply_point.code, day=day))
    if not is_htmx():
        if deleted:
            flash(_("Lettura del %(day)s cancellata.", day=day), "success")
        else:
            flash(refusal, "warning")
        return redirect(url_for("readings.index", punto=reading.supply_point.code), 303)
    if deleted:
        response = make_response("", 200)
        # The row just goes: portal.js reads the news out in the page's live region.
        response.headers["HX-Trigger-After-Settle"] = json.dumps(
            {"announce": _("Lettura del %(day)s cancellata.", day=day)})
    else:
        # The acquisition got there first: the row shows the truth, the notice says why.
        flash(refusal, "warning")
        point = SupplyPoint.get_for_customer(reading.supply_point.code, current_user.id)
        response = make_response(render_block(PAGE, "reading_row", reading=reading,
                                              supply_point=point)
                                 + render_block("base.html", "flash", oob=True))
    response.headers["HX-Trigger"] = "readingsChanged"
    return response
