"""What every step of the demo shares: fixed customers, formatting, calendar, batch inserts."""
import calendar
import datetime
from decimal import ROUND_HALF_UP, Decimal

import models
from models import SupplyPoint
from portal import timebands
from portal.formatting import number_it

DEMO_PASSWORD = "Collesalvetti-2015"
HOUSEHOLD_CODE = "123456"  # not registered yet: for the registration demo
COMPANY_CODE = "654321"  # registered, password DEMO_PASSWORD
# Registered, password DEMO_PASSWORD: held gas point HANDOVER_POINT until it passed to
# COMPANY_CODE (a subentro) HANDOVER_MONTHS months ago.
PREVIOUS_HOLDER_CODE = "246810"
HANDOVER_POINT = "PR004413"
HANDOVER_MONTHS = 8
FIXED_CUSTOMERS = (HOUSEHOLD_CODE, COMPANY_CODE, PREVIOUS_HOLDER_CODE)
GUIDE_SUPPLY_POINT = "PR002874"  # the gas point of the customer guide's screenshots
# The portal shows invoices since 2014 (customer guide, "Elenco fatture").
FIRST_BILLING_MONTH = datetime.date(2014, 1, 1)
GAS = SupplyPoint.GAS
ELECTRICITY = SupplyPoint.ELECTRICITY

# SQLite accepts at most 32766 parameters per statement.
_MAX_PARAMETERS = 32000
_BATCH_ROWS = 5000
_INTERVAL = 900  # seconds in a 15-minute measurement interval

# ---------------------------------------------------------------------------
# Small formatting and calendar helpers
# ---------------------------------------------------------------------------

_CENT = Decimal("0.01")


def _money(value):
    return Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


def _kw(value):
    """Kilowatts as bills print them, without trailing zeros: 3.0 -> "3", 3.3 -> "3,3",
    4.95 -> "4,95"."""
    return number_it(value, 2).rstrip("0").rstrip(",")


def _slug(text):
    return "-".join("".join(char if char.isalnum() else " " for char in text.lower()).split())


def _add_months(day, months):
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _months(first, last):
    """The 1st of every month from first's month to last's month, both included."""
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = timebands.next_month(month)


def _utc(day, hour, minute=0):
    """A Rome wall-clock time as the naive UTC datetime the models store."""
    local = datetime.datetime.combine(day, datetime.time(hour, minute), models.ROME)
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _weighted(rng, weights):
    """A key of `weights` drawn with probability proportional to its value."""
    return rng.choices(list(weights), list(weights.values()))[0]

# ---------------------------------------------------------------------------
# Batched inserts
# ---------------------------------------------------------------------------


def _insert(model, rows, fields=None):
    """Bulk insert in batches that stay under SQLite's parameter limit."""
    columns = len(fields) if fields else len(rows[0]) if rows else 1
    size = max(1, min(_BATCH_ROWS, _MAX_PARAMETERS // columns))
    for first in range(0, len(rows), size):
        model.insert_many(rows[first:first + size], fields=fields).execute()
    return len(rows)
