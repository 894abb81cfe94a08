"""Italian formatting of dates, numbers and CSV cells, shared by templates, CSV and PDFs;
the templates' filters follow the page's language."""
import datetime
import re
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date, format_datetime, get_day_names, get_month_names
from flask_babel import get_locale

from models import ROME

MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
          "agosto", "settembre", "ottobre", "novembre", "dicembre")
SHORT_MONTHS = tuple(month[:3] for month in MONTHS)
SHORT_DAYS = ("lun", "mar", "mer", "gio", "ven", "sab", "dom")
DAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")


def date_it(value, short=False):
    """dd/mm/yyyy (dd/mm/yy when short); empty for None."""
    if value is None:
        return ""
    return value.strftime("%d/%m/%y" if short else "%d/%m/%Y")


def local_datetime(value):
    """A stored naive UTC datetime as Rome local time."""
    if value is None:
        return None
    return value.replace(tzinfo=datetime.timezone.utc).astimezone(ROME).replace(tzinfo=None)


def datetime_it(value):
    """A stored UTC datetime shown in Rome time: dd/mm/yyyy HH:MM."""
    local = local_datetime(value)
    return local.strftime("%d/%m/%Y %H:%M") if local else ""


def number_it(value, decimals=0):
    """1234567.5 -> '1.234.567' (or '1.234.567,50' with decimals=2); None -> ''."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-decimals)
    rounded = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def money(value):
    """1234.56 -> '1.234,56 €'."""
    return "" if value is None else f"{number_it(value, 2)} €"


# --- In the page's language -------------------------------------------------------
# Italian stays exactly as above; English writes 1,234.50, €1,234.50 and 30 Nov 2026
# (the month in letters: 11/30 or 30/11 would each mislead somebody).

# How the request's locale is found: Flask-Babel's get_locale(), or the quicker lookup
# of the same locale the web layer installs (views/language.py).
_page_locale = get_locale


def use_page_locale(lookup):
    """Find the request's locale with `lookup` (called once per filter on every page)."""
    global _page_locale
    _page_locale = lookup


def page_language():
    """The language of the current request ("it" outside one)."""
    locale = _page_locale()
    return locale.language if locale is not None else "it"


def local_date(value, short=False):
    """date_it() in the page's language."""
    if value is None or page_language() == "it":
        return date_it(value, short)
    return format_date(value, "d MMM yy" if short else "d MMM yyyy", locale="en")


def local_datetime_text(value):
    """datetime_it() in the page's language (Rome time either way)."""
    local = local_datetime(value)
    if local is None or page_language() == "it":
        return datetime_it(value)
    return format_datetime(local, "d MMM yyyy HH:mm", locale="en")


def local_number(value, decimals=0):
    """number_it() in the page's language."""
    if value is None or page_language() == "it":
        return number_it(value, decimals)
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{decimals}f}"


def month_name(month, short=False, language=None):
    """'marzo' / 'mar', or 'March' / 'Mar' in English (month 1-12)."""
    if (language or page_language()) == "it":
        return (SHORT_MONTHS if short else MONTHS)[month - 1]
    return get_month_names("abbreviated" if short else "wide", locale="en")[month]


def day_name(weekday, short=False, language=None):
    """'lunedì' / 'lun', or 'Monday' / 'Mon' in English (weekday 0 = Monday)."""
    if (language or page_language()) == "it":
        return (SHORT_DAYS if short else DAYS)[weekday]
    return get_day_names("abbreviated" if short else "wide", locale="en")[weekday]


def local_money(value):
    """money() in the page's language: '1.234,56 €' or '€1,234.56'."""
    if value is None or page_language() == "it":
        return money(value)
    text = local_number(value, 2)
    return f"-€{text[1:]}" if text.startswith("-") else f"€{text}"


# --- CSV ----------------------------------------------------------------------------
# Semicolon-separated, decimal comma, CRLF line ends, quoted as RFC 4180 says. Text
# cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP CSV
# injection). A cell that is nothing but a number (-?digits[,.digits], as csv_number
# and the exports write them) is left alone: a spreadsheet reads it as a number, never
# as a formula, so a negative number stays a number.

CSV_BOM = "\ufeff"  # lets Excel recognise UTF-8
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?\Z", re.ASCII)


def spreadsheet_safe(text):
    """`text` with a leading apostrophe when a spreadsheet would read it as a formula
    (it starts with = + - @ tab or CR and is not a plain number); else unchanged."""
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def spreadsheet_text(cell):
    """The value a spreadsheet_safe() cell stands for: the apostrophe it added goes
    (a file exported by the portal imports back unchanged)."""
    if cell.startswith("'") and spreadsheet_safe(cell[1:]) == cell:
        return cell[1:]
    return cell


def csv_cell(text):
    """A text cell, safe for spreadsheets and quoted where needed."""
    if text is None:
        return ""
    text = spreadsheet_safe(str(text).replace("\x00", ""))
    if any(character in text for character in ';"\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def csv_number(value, decimals=3):
    """1234.5 -> '1234,5', 0.125 -> '0,125', 2.0 -> '2'; None -> ''."""
    if value is None:
        return ""
    text = ("%.*f" % (decimals, value)).rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.replace(".", ",")


def csv_line(cells):
    return ";".join(cells) + "\r\n"


# The Jinja filters of the templates, in the page's language (the names are the
# Italian originals', so the templates did not change).
FILTERS = dict(date_it=local_date, datetime_it=local_datetime_text, number_it=local_number,
               money=local_money)
