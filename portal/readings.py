"""Rules of gas self-readings (autoletture): reading windows, one reading a day, the
meter's digits, roll-over, plausibility, and the delete that races the acquisition.

Thresholds:
- a reading is a whole number >= 0 with at most `SupplyPoint.meter_digits` digits
  (the corrector: at most `CORRECTOR_DIGITS`); "45.000" is read as 45000;
- it is compared with the holder's own last *acquired* reading that billing did not
  reject ("Scartata"), never with a previous holder's: lower means a roll-over, which the customer must confirm;
- the consumption since then is compared with `expected_annual_consumption` prorated
  by days (at least `MIN_PRORATION_DAYS`, so one cold day is not an alarm): more than
  `PLAUSIBILITY_FACTOR` times that, or nothing at all after `ZERO_AFTER_DAYS` days or
  more, needs an explicit confirmation. The corrector is checked the same way against
  its own history.
"""
import dataclasses
import re

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from portal import attachments
from portal.formatting import local_date, local_number
from models import Prepared, ReadingWindow, SelfReading, SupplyPoint, db, id_of, rome_now

CORRECTOR_DIGITS = 9
PLAUSIBILITY_FACTOR = 3
MIN_PRORATION_DAYS = 30
ZERO_AFTER_DAYS = 60

READINGS_PER_PAGE = (5, 10, 20, 50)
WINDOWS_PER_PAGE = (10, 20, 50)

ONE_A_DAY = _l("Hai già inserito una lettura oggi ({day}): è possibile inserire una sola "
               "lettura al giorno. Per correggerla cancellala, finché è «Da acquisire», e "
               "inseriscila di nuovo.")
WINDOW_CLOSED_NEXT = _l("In questo momento l'inserimento delle autoletture non è consentito: "
                        "il prossimo periodo inizia il {day} alle ore {time}.")
CEASED = _l("La fornitura è cessata dal {day}: il punto è passato a un altro intestatario e "
            "non puoi più inserire né cancellare autoletture.")
WINDOW_CLOSED = _l("In questo momento l'inserimento delle autoletture non è consentito e non "
                   "sono previsti nuovi periodi: per comunicare la lettura contatta il "
                   "servizio clienti.")

PHOTO_REQUIRED = _l("Per confermare questa lettura allega una foto del contatore in cui si "
                    "leggano le cifre.")
# Where meter photos live under FILES_DIR (a folder a year, like invoices).
PHOTO_FOLDER = "readings/{year}"

# The registers' names in the messages (SelfReading.info keeps the Italian ones).
REGISTER_NAMES = {"contatore": _l("contatore"), "correttore": _l("correttore")}

_PLAIN_DIGITS = re.compile(r"[0-9]+")
# Italian thousands separators, as the list shows readings: 45.000 or 1.234.567.
_DOTTED_THOUSANDS = re.compile(r"[0-9]{1,3}(\.[0-9]{3})+")


@dataclasses.dataclass(frozen=True)
class Register:
    """One of the two numbers on a gas meter: the meter's own index or the volume
    corrector's. Both follow the same rules against their own history."""

    field: str        # SelfReading attribute and form field name
    name: str         # "contatore" / "correttore"
    unit: str
    digits: int

    @property
    def limit(self):
        return 10 ** self.digits

    def value_of(self, reading):
        return getattr(reading, self.field)


def registers(supply_point):
    """The registers the customer reads on this point: the meter, plus the corrector
    when the meter has one."""
    meter = Register("meter_reading", "contatore", "m³", supply_point.meter_digits or 5)
    if not supply_point.has_corrector:
        return [meter]
    return [meter, Register("corrector_reading", "correttore", "Smc", CORRECTOR_DIGITS)]


def parse_reading(text, register):
    """(value, None) for a valid reading, else (None, message in the page's language)."""
    name = REGISTER_NAMES[register.name]
    text = re.sub(r"\s+", "", text or "")
    if not text:
        return None, _("Inserisci la lettura del %(register)s.", register=name)
    if _DOTTED_THOUSANDS.fullmatch(text):
        text = text.replace(".", "")
    if text.startswith("-") and _PLAIN_DIGITS.fullmatch(text[1:]):
        return None, _("La lettura non può essere negativa.")
    if re.fullmatch(r"[0-9]+[.,][0-9]*", text):
        return None, _("Inserisci solo la parte intera, senza decimali: le cifre dopo la "
                       "virgola (di solito rosse) non vanno indicate.")
    if not _PLAIN_DIGITS.fullmatch(text):
        return None, _("Inserisci solo cifre (da 0 a 9), senza lettere né simboli.")
    # Counted on the text: a thousand-digit paste never reaches int().
    if len(text.lstrip("0")) > register.digits:
        return None, _("Il %(register)s ha %(digits)s cifre: la lettura può arrivare al "
                       "massimo a %(limit)s.", register=name, digits=register.digits,
                       limit=local_number(register.limit - 1))
    return int(text), None


def _reference_query(*also):
    """The holder's last acquired reading that billing did not reject (and `also` holds)."""
    return Prepared(lambda supply_point, customer: SelfReading
                    .select()
                    .where((SelfReading.supply_point == supply_point),
                           (SelfReading.customer == customer),
                           (SelfReading.status == SelfReading.ACQUIRED),
                           (SelfReading.outcome.is_null()) | (SelfReading.outcome != "scartata"),
                           *also)
                    .order_by(SelfReading.reading_date.desc())
                    .limit(1))


_REFERENCE = {name: _reference_query(getattr(SelfReading, name).is_null(False))
              for name in ("meter_reading", "corrector_reading")}
_LAST_ACCEPTED = _reference_query()


def reference_readings(supply_point, registers):
    """{register field: the holder's last acquired reading of that register that billing
    has not rejected, or None}: a previous holder's readings are theirs, never compared
    with. The last acquired reading usually has every register: then it is the one query
    (a round trip less for a point with a corrector); a register it lacks gets its own."""
    point = (id_of(supply_point), supply_point.customer_id)
    last = _LAST_ACCEPTED.first(*point)
    return {register.field: (last if last is None or register.value_of(last) is not None
                             else _REFERENCE[register.field].first(*point))
            for register in registers}


@dataclasses.dataclass
class ReadingWarning:
    """A value that may be right but looks wrong: saved only once confirmed."""

    message: str
    info: str  # what SelfReading.info records once the customer confirms


def plausibility_warnings(supply_point, register, value, today, previous):
    """What needs the customer's confirmation for this value of this register, against
    its reference reading `previous` (reference_readings)."""
    if previous is None:
        return []
    last = register.value_of(previous)
    days = max(1, (today - previous.reading_date).days)
    since = _("%(reading)s del %(day)s", reading=local_number(last),
              day=local_date(previous.reading_date))
    name = REGISTER_NAMES[register.name]
    warnings = []
    consumption = value - last
    if consumption < 0:
        consumption += register.limit
        warnings.append(ReadingWarning(
            _("La lettura è inferiore all'ultima lettura acquisita del %(register)s "
              "(%(since)s). È possibile solo se il %(register)s ha superato %(limit)s ed è "
              "ripartito da zero (giro %(register)s): in quel caso conferma, altrimenti "
              "correggi la lettura.", register=name, since=since,
              limit=local_number(register.limit - 1)),
            f"Giro {register.name} confermato"))
    annual = supply_point.expected_annual_consumption or 0
    if annual <= 0:
        return warnings
    prorated_days = max(days, MIN_PRORATION_DAYS)
    expected = annual * prorated_days / 365
    if consumption > PLAUSIBILITY_FACTOR * expected:
        warnings.append(ReadingWarning(
            _("Rispetto all'ultima lettura acquisita (%(since)s, %(days)s giorni fa) "
              "risulterebbe un consumo di %(consumption)s %(unit)s, più di %(factor)s volte "
              "quello previsto in %(prorated)s giorni (circa %(expected)s %(unit)s). "
              "Controlla la lettura: se è corretta, conferma.", since=since, days=days,
              consumption=local_number(consumption), unit=register.unit,
              factor=PLAUSIBILITY_FACTOR, prorated=prorated_days,
              expected=local_number(expected)),
            f"Consumo elevato ({register.name}) confermato"))
    elif consumption == 0 and days >= ZERO_AFTER_DAYS:
        warnings.append(ReadingWarning(
            _("La lettura è uguale all'ultima lettura acquisita (%(since)s): in %(days)s "
              "giorni non risulterebbe alcun consumo. Controlla la lettura: se è corretta "
              "(per esempio la fornitura non è stata usata), conferma.", since=since,
              days=days),
            f"Consumo nullo ({register.name}) confermato"))
    return warnings


def window_message(supply_point, now):
    """None while a reading window is open, else why not and when the next one opens."""
    if ReadingWindow.open_at(supply_point, now) is not None:
        return None
    upcoming = ReadingWindow.next_after(supply_point, now)
    if upcoming is None:
        return WINDOW_CLOSED
    return WINDOW_CLOSED_NEXT.format(day=local_date(upcoming.start_at),
                                     time=upcoming.start_at.strftime("%H:%M"))


_reading_of_day = Prepared(lambda supply_point, day: SelfReading
                           .select(SelfReading.id)
                           .where((SelfReading.supply_point == supply_point)
                                  & (SelfReading.reading_date == day))
                           .limit(1))


def read_today(supply_point, today):
    return bool(_reading_of_day.tuples(id_of(supply_point), today))


def form_notices(supply_point, now):
    """What the customer should know before typing: a closed window, today's reading."""
    notices = []
    closed = window_message(supply_point, now)
    if closed:
        notices.append(closed)
    if read_today(supply_point, now.date()):
        notices.append(ONE_A_DAY.format(day=local_date(now.date())))
    return notices


@dataclasses.dataclass
class Submission:
    """The outcome of a submission: the new reading, or why not."""

    reading: SelfReading = None
    errors: dict = dataclasses.field(default_factory=dict)        # field -> [message]
    form_errors: list = dataclasses.field(default_factory=list)
    warnings: dict = dataclasses.field(default_factory=dict)      # field -> [ReadingWarning]
    fingerprint: str = ""  # the values the warnings are about

    photo_required: bool = False  # the confirmation needs a photo of the meter

    @property
    def needs_confirmation(self):
        # A missing or refused photo does not take the confirmation away: the values
        # are still the ones to confirm.
        return self.reading is None and bool(self.warnings) and not self.form_errors \
            and not (set(self.errors) - {"photo"})


def submit(supply_point, typed, confirmation="", now=None, photo=None, channel=None,
           operator=None, photo_required=False, submission=None):
    """Validate and store a reading typed by the customer, or by an operator for them.

    `typed` maps field names to the typed text; `confirmation` is the fingerprint of
    the values whose warnings the customer has confirmed: a confirmation is only good
    for the very values it was given for. `photo` is the uploaded meter photo (a
    werkzeug FileStorage) or None; with `photo_required` a reading that needs a
    confirmation is saved only with one. `channel` and `operator` say how the reading
    reached the utility when an operator enters it; the rules are the same. A form
    `submission` (portal/submissions.py) is recorded with the new reading."""
    now = now or rome_now()
    today = now.date()
    result = Submission()
    closed = window_message(supply_point, now)
    if supply_point.is_ceased:
        result.form_errors.append(CEASED.format(day=local_date(supply_point.held_until)))
        return result
    if closed:
        result.form_errors.append(closed)
    elif read_today(supply_point, today):
        result.form_errors.append(ONE_A_DAY.format(day=local_date(today)))
    values = {}
    for register in registers(supply_point):
        value, error = parse_reading(typed.get(register.field), register)
        if error:
            result.errors[register.field] = [error]
        values[register.field] = value
    upload = None
    if photo:  # a FileStorage is false when no file was chosen
        try:
            upload = attachments.meter_photo(photo, current_app.config["READING_PHOTO_LONG_SIDE"])
        except attachments.AttachmentError as error:
            result.errors["photo"] = [str(error)]
    if result.errors or result.form_errors:
        return result

    result.fingerprint = "|".join(str(values[register.field])
                                  for register in registers(supply_point))
    references = reference_readings(supply_point, registers(supply_point))
    for register in registers(supply_point):
        warnings = plausibility_warnings(supply_point, register, values[register.field], today,
                                         references[register.field])
        if warnings:
            result.warnings[register.field] = warnings
    result.photo_required = bool(result.warnings) and photo_required
    if result.warnings and confirmation != result.fingerprint:
        return result
    if result.photo_required and upload is None:
        result.errors["photo"] = [str(PHOTO_REQUIRED)]
        return result

    info = "; ".join(warning.info for warnings in result.warnings.values()
                     for warning in warnings)
    files_dir = upload and current_app.config["FILES_DIR"]
    # The photo is on disk before the row that points at it is committed, and goes
    # again if the row is not.
    photo_path = upload and attachments.store(files_dir, PHOTO_FOLDER.format(year=today.year),
                                              upload)
    try:
        with db.atomic():
            result.reading = SelfReading.create(supply_point=supply_point,
                                                customer=supply_point.customer_id,
                                                reading_date=today, info=info,
                                                photo_path=photo_path, channel=channel,
                                                operator=operator, **values)
            if submission is not None:
                submission.record(result.reading)
    except IntegrityError:
        if photo_path:
            attachments.remove(files_dir, photo_path)
        result.reading = None
        if submission is not None and submission.first_result() is not None:
            raise  # a repeat of a form already saved: submissions.once answers it
        # The unique index on (supply point, day) decides between simultaneous
        # submissions: exactly one wins, the others get the rule's message.
        result.form_errors.append(ONE_A_DAY.format(day=local_date(today)))
    except BaseException:
        if photo_path:
            attachments.remove(files_dir, photo_path)
        raise
    return result


def _customer_points(customer):
    return SupplyPoint.select(SupplyPoint.id).where(SupplyPoint.customer == customer)


# Ids beyond a 64-bit integer would overflow the database driver: they are simply not found.
MAX_ID = 2 ** 63 - 1


def get_for_customer(reading_id, customer):
    """The customer's reading with this id (with its supply point), or None."""
    if not 0 < reading_id <= MAX_ID:
        return None
    return (SelfReading
            .select(SelfReading, SupplyPoint)
            .join(SupplyPoint)
            .where((SelfReading.id == reading_id) & (SelfReading.customer == customer))
            .first())


def still_held(reading):
    """The reading's point is still its author's: only then may it be deleted."""
    return reading.supply_point.customer_id == reading.customer_id


def delete_pending(reading_id, customer):
    """Delete the customer's reading if it is still "Da acquisire".

    One conditional DELETE decides against a concurrent acquisition: either it
    deletes the row or the row is already "Acquisita" and stays. Returns
    (True, reading as it was) when deleted, (False, reading as it is now) when it could
    not be, (False, None) when the customer has no such reading."""
    before = get_for_customer(reading_id, customer)
    if before is None or not still_held(before):
        return False, before
    # One statement commits on its own: a transaction around it would only add BEGIN
    # and COMMIT, two more round trips on PostgreSQL (SQLite takes its write lock for
    # the statement, waiting out busy_timeout, as BEGIN IMMEDIATE would).
    deleted = (SelfReading
               .delete()
               .where((SelfReading.id == reading_id)
                      & (SelfReading.status == SelfReading.PENDING)
                      & (SelfReading.supply_point.in_(_customer_points(customer))))
               .execute())
    if deleted:
        # After the commit: a file left by a crash here is only unused, never missing.
        if before.photo_path:
            attachments.remove(current_app.config["FILES_DIR"], before.photo_path)
        return True, before
    return False, get_for_customer(reading_id, customer)


def rows_per_page(value, choices):
    """The requested rows per page when it is one of the choices, else the first."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 4 \
        and int(value) in choices else choices[0]
