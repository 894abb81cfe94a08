"""One page of a query, for the "pag. 1 di 3 righe 10" pagers of the portal."""
import math

from flask import request


def requested_page(name="pag"):
    """The query argument `name` as a page number; anything odd is page 1."""
    value = request.values.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 1


class Pager:
    """The rows of one page of `query`; a page past the end shows the last one."""

    def __init__(self, query, per_page, page=None):
        self._fill(query.count(),
                   lambda limit, offset: list(query.limit(limit).offset(offset)),
                   per_page, page)

    @classmethod
    def of(cls, total, fetch, per_page, page=None):
        """A pager over `total` rows that `fetch(limit, offset)` returns a page of."""
        pager = cls.__new__(cls)
        pager._fill(total, fetch, per_page, page)
        return pager

    @classmethod
    def of_list(cls, items, per_page, page=None):
        return cls.of(len(items), lambda limit, offset: items[offset:offset + limit],
                      per_page, page)

    def _fill(self, total, fetch, per_page, page):
        self.per_page = per_page
        self.total = total
        self.pages = max(1, math.ceil(self.total / per_page))
        self.page = min(max(1, page or requested_page()), self.pages)
        self.items = fetch(per_page, (self.page - 1) * per_page)

    @property
    def previous(self):
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self):
        return self.page + 1 if self.page < self.pages else None
