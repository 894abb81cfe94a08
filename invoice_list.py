"""Elenco fatture: one page of a supply point's invoices since 2014, by year."""
import datetime
import math

from models import Invoice

FIRST_YEAR = 2014
PER_PAGE = 12


def invoices_since_first_year(supply_point):
    return (Invoice.for_supply_point(supply_point)
            .where(Invoice.date >= datetime.date(FIRST_YEAR, 1, 1)))


def invoice_years(supply_point):
    """The years that have invoices, newest first."""
    year = Invoice.date.year
    query = (Invoice
             .select(year.alias("year"))
             .where((Invoice.supply_point == supply_point)
                    & (Invoice.date >= datetime.date(FIRST_YEAR, 1, 1)))
             .group_by(year)
             .order_by(year.desc()))
    return [int(row.year) for row in query.objects()]


class InvoiceListing:
    """The invoices of one page (newest first) with what the filter and pager need."""

    def __init__(self, supply_point, year=None, page=1):
        self.years = invoice_years(supply_point)
        # A year without invoices (or nonsense) shows every year rather than nothing.
        self.year = year if year in self.years else None
        query = invoices_since_first_year(supply_point)
        if self.year is not None:
            query = query.where(Invoice.date.between(datetime.date(self.year, 1, 1),
                                                     datetime.date(self.year, 12, 31)))
        self.total = query.count()
        self.pages = max(1, math.ceil(self.total / PER_PAGE))
        self.page = min(max(page or 1, 1), self.pages)
        self.invoices = list(query.paginate(self.page, PER_PAGE))

    @property
    def has_previous(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages
