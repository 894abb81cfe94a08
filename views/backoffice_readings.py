"""Back-office readings: an operator enters a customer's gas reading taken by phone,
e-mail, post or at the desk, under the customer's rules, and sees the meter photos."""
from flask import abort, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from models import SupplyPoint, rome_now
from portal.formatting import local_date
from portal.readings import get_for_customer, read_today, submit, window_message
from views import CreatingForm, create_once, render_page
from views.backoffice import audit_action, audit_customer_view, bp, done, operator_required
from views.backoffice_records import customer_or_404
from views.downloads import send_meter_photo

PAGE = "backoffice/reading.html"

CHANNELS = {"telefono": "Telefono", "email": "E-mail", "posta": "Posta",
            "sportello": "Sportello"}
ALREADY_SAVED = "La lettura era già stata salvata: eccola nell'elenco."


class OperatorReadingForm(CreatingForm):
    supply_point = SelectField("Punto di fornitura", validate_choice=False)
    channel = RadioField("Canale", validate_choice=False,
                         choices=[SelectChoice(value, label) for value, label in CHANNELS.items()])
    meter_reading = StringField("Lettura contatore")
    corrector_reading = StringField("Lettura correttore")
    photo = FileField("Foto del contatore (facoltativa, se il cliente l'ha inviata)")

    def validate_channel(self, field):
        if field.data not in CHANNELS:
            raise ValidationError("Indica come è arrivata la lettura.")


def gas_points(customer):
    """The customer's gas points a reading can still be entered for (not passed on)."""
    return [point for point in SupplyPoint.of_customer(customer.id)
            if point.is_gas and not point.is_ceased]


def _page(customer, form, points, status=200, submission=None):
    form.supply_point.choices = [SelectChoice(point.code, f"{point.code} · PDR {point.pdr_pod}")
                                 for point in points]
    chosen = next((point for point in points if point.code == form.supply_point.data),
                  points[0] if points else None)
    notices = _notices(chosen, rome_now()) if chosen and submission is None else []
    return render_page(PAGE, customer=customer, form=form, points=points, chosen=chosen,
                       channels=CHANNELS, submission=submission, notices=notices), status


def _notices(point, now):
    """What the operator should know before typing, in the operator's words."""
    notices = []
    closed = window_message(point, now)
    if closed:
        notices.append(closed)
    if read_today(point, now.date()):
        notices.append(f"Il punto {point.code} ha già una lettura di oggi: se ne accetta una "
                       "al giorno (finché è «Da acquisire» il cliente può cancellarla).")
    return notices


@bp.get("/clienti/<code>/autoletture/nuova")
@operator_required()
def reading_new(code):
    """The form of a reading the customer gave by phone, e-mail, post or at the desk."""
    customer = customer_or_404(code)
    audit_customer_view(customer, "nuova autolettura")
    form = OperatorReadingForm(formdata=None)
    points = gas_points(customer)
    if request.args.get("punto") in {point.code for point in points}:
        form.supply_point.data = request.args["punto"]
    return _page(customer, form, points)


@bp.post("/clienti/<code>/autoletture/nuova")
@operator_required()
def reading_create(code):
    """Save the reading under the customer's own rules, recording channel and operator."""
    customer = customer_or_404(code)
    form = OperatorReadingForm()
    points = gas_points(customer)
    point = next((point for point in points if point.code == form.supply_point.data), None)
    if point is None:
        # Not this customer's gas point (or passed on): nothing to enter it for.
        abort(404)
    if not form.validate_on_submit():
        return _page(customer, form, points, 422)
    typed = {"meter_reading": form.meter_reading.data,
             "corrector_reading": form.corrector_reading.data}
    list_url = url_for("backoffice.customer", code=customer.code, section="autoletture")
    submission, first_result = create_once(form, lambda once: submit(
        point, typed, request.form.get("conferma", ""), photo=form.photo.data,
        channel=form.channel.data, operator=current_user.username, submission=once),
        lambda reading: list_url)
    if first_result:
        return done(ALREADY_SAVED, "backoffice.customer", "warning", code=customer.code,
                    section="autoletture")
    if submission.reading is None:
        for name, messages in submission.errors.items():
            form[name].errors = list(messages)
        for name, warnings in submission.warnings.items():
            form[name].errors = [warning.message for warning in warnings]
        return _page(customer, form, points, 422, submission)
    reading = submission.reading
    audit_action("operator_reading_created", customer,
                 f"autolettura {point.code} del {reading.reading_date.isoformat()} "
                 f"({form.channel.data}){' con foto' if reading.photo_path else ''}")
    return done(f"Lettura del {local_date(reading.reading_date)} salvata per il punto "
                f"{point.code}: il cliente la vede nell'Elenco Autoletture.",
                "backoffice.customer", code=customer.code, section="autoletture")


@bp.get("/clienti/<code>/autoletture/<int:reading_id>/foto")
@operator_required()
def reading_photo(code, reading_id):
    """The meter photo of one of the customer's readings (the look is audited)."""
    customer = customer_or_404(code)
    reading = get_for_customer(reading_id, customer.id)
    if reading is None or not reading.photo_path:
        abort(404)
    audit_customer_view(customer, f"foto autolettura {reading.supply_point.code} del "
                                  f"{reading.reading_date.isoformat()}")
    return send_meter_photo(reading)
