"""How the files of the contract write a value: the parsers, and Rome local time.

Also the separator, Column (how a column is read and what its empty value stands for)
and the errors a report lists: BadValue, LineError, FileRefused. Pure code: no
database, no application.
"""
import datetime
import decimal
import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum import iban as stdnum_iban
from stdnum.it import codicefiscale, iva

from models import ROME

SEPARATOR = ";"
MAX_TEXT = 255           # CharField's length (PostgreSQL enforces it)


class BadValue(ValueError):
    """A value that breaks the contract; the message is the reason in the report."""


class LineError(Exception):
    """A bad line: [(column, reason), ...]."""

    def __init__(self, problems):
        super().__init__(problems)
        self.problems = problems


class FileRefused(Exception):
    """The file as a whole is not what the contract says (encoding, separator,
    header): refused before reading its lines."""

    def __init__(self, reason, line=1, column="-"):
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column


_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z", re.ASCII)
_ITALIAN_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})\Z", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2})\Z", re.ASCII)
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}) (\d{2}):(\d{2})\Z", re.ASCII)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?\Z", re.ASCII)
_CUSTOMER_CODE = re.compile(r"\d{6}\Z", re.ASCII)
_POINT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z", re.ASCII)
_INVOICE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9/._-]{0,39}\Z", re.ASCII)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def parse_date(text):
    """YYYY-MM-DD or DD/MM/YYYY."""
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _ITALIAN_DATE.match(text)
        if not match:
            raise BadValue(f"'{shown(text)}' is not a date: expected YYYY-MM-DD or DD/MM/YYYY")
        day, month, year = match.groups()
    try:
        value = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise BadValue(f"'{text}' is not a day of the calendar") from None
    if not 1900 <= value.year <= 2100:
        raise BadValue(f"'{text}': the year must be between 1900 and 2100")
    return value


def parse_time(text):
    """HH:MM, 00:00 to 23:59."""
    match = _TIME.match(text)
    if not match:
        raise BadValue(f"'{shown(text)}' is not a time: expected HH:MM")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise BadValue(f"'{text}' is not a time of the day (00:00 to 23:59)")
    return datetime.time(hour, minute)


def parse_number(text):
    """A decimal with `,` or `.`, no thousands separators, no exponent."""
    if _NUMBER.match(text):
        return float(text.replace(",", "."))
    if "," in text and "." in text:
        raise BadValue(f"'{shown(text)}': thousands separators are not allowed "
                       "(write 1234,5 or 1234.5)")
    raise BadValue(f"'{shown(text)}' is not a number (write 1234,5 or 1234.5)")


def parse_quantity(text):
    """A number that cannot be negative (energy, power, volume)."""
    value = parse_number(text)
    if value < 0:
        raise BadValue(f"'{text}' is negative")
    return value


def parse_amount(text):
    """Euros with at most two decimals; negative for a credit note."""
    parse_number(text)
    amount = decimal.Decimal(text.replace(",", "."))
    if amount.as_tuple().exponent < -2:
        raise BadValue(f"'{text}': an amount has at most 2 decimals")
    if abs(amount) >= 10 ** 10:
        raise BadValue(f"'{text}' is too large for an amount")
    return amount.quantize(decimal.Decimal("0.01"))


def parse_bool(text):
    if text == "1":
        return True
    if text == "0":
        return False
    raise BadValue(f"'{shown(text)}' is not a boolean: expected 0 or 1")


def parse_customer_code(text):
    if not _CUSTOMER_CODE.match(text):
        raise BadValue(f"'{shown(text)}' is not a customer code: expected 6 digits")
    return text


def parse_point_code(text):
    if not _POINT_CODE.match(text):
        raise BadValue(f"'{shown(text)}' is not a supply point code: letters, digits, "
                       "'.', '_' or '-', at most 32")
    return text


def parse_invoice_number(text):
    if not _INVOICE_NUMBER.match(text):
        raise BadValue(f"'{shown(text)}' is not an invoice number: letters, digits, "
                       "'/', '.', '_' or '-', at most 40")
    return text


def parse_tax_code(text):
    """Codice fiscale (16 characters) or partita IVA (11 digits), check character
    included; returned upper-case without spaces."""
    value = text.replace(" ", "").upper()
    if len(value) == 11 and value.isdigit():
        checker, what = iva, "partita IVA"
    elif len(value) == 16:
        checker, what = codicefiscale, "codice fiscale"
    else:
        raise BadValue(f"'{shown(text)}' is neither a codice fiscale (16 characters) nor a "
                       "partita IVA (11 digits)")
    try:
        checker.validate(value)
    except InvalidChecksum:
        raise BadValue(f"'{text}': the check character of the {what} is wrong") from None
    except InvalidComponent:
        detail = "office code" if checker is iva else "birth date or place"
        raise BadValue(f"'{text}': the {detail} of the {what} is not valid") from None
    except ValidationError:
        raise BadValue(f"'{shown(text)}' is not a valid {what}") from None
    return value


# The codice avviso: 18 digits, the first the aux digit 0-3 (PagoPA, "Avviso di
# pagamento pagoPA", Allegato 2 > Codice QR; SACI, numero avviso).
_PAGOPA_NOTICE = re.compile(r"[0-3]\d{17}\Z", re.ASCII)
_MASKED_IBAN = re.compile(r"[A-Z]{2}\.\.[A-Z0-9]{4}\Z", re.ASCII)


def parse_pagopa_notice(text):
    """A pagoPA codice avviso: 18 digits, the first (aux digit) 0 to 3; spaces allowed,
    as printed on notices (four-digit groups)."""
    value = text.replace(" ", "")
    if not _PAGOPA_NOTICE.match(value):
        raise BadValue(f"'{shown(text)}' is not a pagoPA notice code: expected 18 digits "
                       "starting with 0, 1, 2 or 3")
    return value


def parse_creditor_code(text):
    """The pagoPA creditor's codice fiscale: 11 digits with the partita IVA check digit."""
    value = text.replace(" ", "")
    if not (len(value) == 11 and value.isdigit() and iva.is_valid(value)):
        raise BadValue(f"'{shown(text)}' is not the codice fiscale of a creditor body: "
                       "expected 11 digits with a valid check digit")
    return value


def parse_payment_link(text):
    """A payment page address: https, at most 500 characters, no spaces. Whether its
    host is shown is the portal's setting (PAYMENT_LINK_HOSTS), not the file's."""
    if (not text.startswith("https://") or len(text) > 500
            or any(character.isspace() or ord(character) < 0x20 for character in text)):
        raise BadValue(f"'{shown(text)}' is not a payment link: expected an https:// "
                       "address of at most 500 characters")
    return text


def parse_debited_iban(text):
    """The IBAN an invoice is debited to: a whole IBAN (checked) or a masked one
    (`IT..1234`); only the masked form is kept."""
    value = text.replace(" ", "").upper()
    if _MASKED_IBAN.match(value):
        return value
    if not stdnum_iban.is_valid(value):
        raise BadValue(f"'{shown(text)}' is neither a valid IBAN nor a masked one (IT..1234)")
    return f"{value[:2]}..{value[-4:]}"


def parse_email(text):
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise BadValue(f"'{shown(text)}' is not an e-mail address ({error})") from None


def text_of(max_length=MAX_TEXT):
    """Free text of at most max_length characters, without control characters."""
    def parse(text):
        if len(text) > max_length:
            raise BadValue(f"longer than {max_length} characters")
        if CONTROL_CHARACTERS.search(text):
            raise BadValue("contains a control character")
        return text
    return parse


def choice_of(*values):
    """One of values, case-insensitive; returned as written in values."""
    canonical = {value.lower(): value for value in values}

    def parse(text):
        try:
            return canonical[text.lower()]
        except KeyError:
            raise BadValue(f"'{shown(text)}' is not one of: {', '.join(values)}") from None
    return parse


def integer_between(low, high):
    def parse(text):
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            raise BadValue(f"'{shown(text)}' is not a whole number from {low} to {high}")
        return int(text)
    return parse


def shown(text, limit=40):
    """A value quoted in a report: short, one line."""
    text = CONTROL_CHARACTERS.sub("?", text)
    return text if len(text) <= limit else text[:limit] + "…"


# Column.blank for a column whose empty value is a bad line.
REQUIRED = "required"


@dataclass
class Column:
    """A column of the contract: how a value is read, whether the header must have
    it, and what an empty value stands for (REQUIRED: an empty value is a bad line)."""
    parse: callable
    required: bool = True
    blank: object = REQUIRED


# ---------------------------------------------------------------------------
# Local time in Rome
# ---------------------------------------------------------------------------

_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_UTC = datetime.timezone.utc


class LocalTimeParser:
    """Europe/Rome `YYYY-MM-DD HH:MM` -> UTC epoch seconds, fast: the offset of the
    last day seen is cached, and only the two DST change days per year go through
    zoneinfo line by line.

    On the autumn change day 02:00-02:59 happens twice. A file lists those times
    twice, in order, so the first occurrence for a series (a supply point) is the
    first pass (summer time, fold=0) and the second is the repeat (winter time,
    fold=1). In spring 02:00-02:59 does not exist: such a time is a bad value."""

    def __init__(self):
        self._day_text = None
        self._day_seconds = 0
        self._offset = None
        self._day = None
        self._repeats = set()

    def epoch(self, text, series):
        # Most lines are another quarter hour of the day before: only the time is read.
        if (len(text) == 16 and text[:10] == self._day_text and self._offset is not None
                and text[10] == " " and text[13] == ":" and text.isascii()):
            hour, minute = text[11:13], text[14:16]
            if hour.isdigit() and minute.isdigit() and hour < "24" and minute < "60":
                return self._day_seconds + int(hour) * 3600 + int(minute) * 60 - self._offset
        match = _TIMESTAMP.match(text)
        if match is None:
            raise BadValue(f"'{shown(text)}' is not a timestamp: expected YYYY-MM-DD HH:MM")
        day_text, hour, minute = match.groups()
        if day_text != self._day_text:
            self._load_day(day_text)
        hour, minute = int(hour), int(minute)
        if hour > 23 or minute > 59:
            raise BadValue(f"'{text}' is not a time of the day (00:00 to 23:59)")
        seconds = self._day_seconds + hour * 3600 + minute * 60
        if self._offset is not None:
            return seconds - self._offset
        return self._on_change_day(text, series, hour, minute)

    def _load_day(self, day_text):
        day = parse_date(day_text)
        self._day_text, self._day = day_text, day
        self._day_seconds = (day.toordinal() - _EPOCH_ORDINAL) * 86400
        midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=ROME).utcoffset()
        last_minute = datetime.datetime(day.year, day.month, day.day, 23, 59,
                                        tzinfo=ROME).utcoffset()
        # None marks the change days: every time of them is looked up.
        self._offset = int(midnight.total_seconds()) if midnight == last_minute else None

    def _on_change_day(self, text, series, hour, minute):
        day = self._day
        local = datetime.datetime(day.year, day.month, day.day, hour, minute)
        first = local.replace(tzinfo=ROME)
        repeat = local.replace(tzinfo=ROME, fold=1)
        if first.utcoffset() == repeat.utcoffset():
            return int(first.timestamp())
        if first.astimezone(_UTC).astimezone(ROME).replace(tzinfo=None) != local:
            raise BadValue(f"'{text}' does not exist in Italy: on {day:%d/%m/%Y} clocks go "
                           "forward from 02:00 to 03:00")
        key = (series, local)
        if key in self._repeats:
            return int(repeat.timestamp())
        self._repeats.add(key)
        return int(first.timestamp())


def local_timestamp(epoch):
    """UTC epoch seconds -> the contract's Rome `YYYY-MM-DD HH:MM`."""
    return datetime.datetime.fromtimestamp(epoch, ROME).strftime("%Y-%m-%d %H:%M")
