"""Elenco fatture: one page of a supply point's invoices since 2014, by year."""
import collections
import datetime
import math

from models import Invoice, Prepared, id_of

FIRST_YEAR = 2014
SINCE = datetime.date(FIRST_YEAR, 1, 1)
PER_PAGE = 12

# The dates of every invoice (an index-only scan: a few hundred at most) give the
# years and the counts of the filter and the pager in one query.
_invoice_dates = Prepared(lambda supply_point, since: Invoice
                          .select(Invoice.date)
                          .where((Invoice.supply_point == supply_point) & (Invoice.date >= since)))
_page_of_all = Prepared(lambda supply_point, since, limit, offset: Invoice
                        .for_supply_point(supply_point)
                        .where(Invoice.date >= since)
                        .limit(limit).offset(offset))
_page_of_year = Prepared(lambda supply_point, since, first, last, limit, offset: Invoice
                         .for_supply_point(supply_point)
                         .where((Invoice.date >= since) & Invoice.date.between(first, last))
                         .limit(limit).offset(offset))


def _years_counted(supply_point):
    return collections.Counter(day.year for (day,) in
                               _invoice_dates.tuples(id_of(supply_point), SINCE))


class InvoiceListing:
    """The invoices of one page (newest first) with what the filter and pager need."""

    def __init__(self, supply_point, year=None, page=1):
        counted = _years_counted(supply_point)
        self.years = sorted(counted, reverse=True)
        # A year without invoices (or nonsense) shows every year rather than nothing.
        self.year = year if year in self.years else None
        self.total = counted[self.year] if self.year is not None else sum(counted.values())
        self.pages = max(1, math.ceil(self.total / PER_PAGE))
        self.page = min(max(page or 1, 1), self.pages)
        point = supply_point.id
        offset = (self.page - 1) * PER_PAGE
        if self.year is None:
            self.invoices = _page_of_all(point, SINCE, PER_PAGE, offset)
        else:
            self.invoices = _page_of_year(point, SINCE, datetime.date(self.year, 1, 1),
                                          datetime.date(self.year, 12, 31), PER_PAGE, offset)

    @property
    def has_previous(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages
