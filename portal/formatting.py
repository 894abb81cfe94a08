"""Italian formatting of dates and numbers, shared by templates, CSV and PDFs."""
import datetime
from decimal import ROUND_HALF_UP, Decimal

from models import ROME

MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
          "agosto", "settembre", "ottobre", "novembre", "dicembre")


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


# The Jinja filters of the templates.
FILTERS = dict(date_it=date_it, datetime_it=datetime_it, number_it=number_it, money=money)
