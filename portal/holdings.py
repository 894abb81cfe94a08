"""Holders over time (volture, subentri): handing a supply point over and who held it on a day.

A holding runs from its start day (None: since the point's first data) up to its end
day, exclusive (None: held today). Each customer sees of a point only their own
holding: the invoices addressed to them, the billed periods and the measurements that
start inside it, the readings they entered. See docs/data-exchange.md, "Holders".
"""
import collections

from models import Customer, Holding, SupplyPoint, db


class HandOverRefused(ValueError):
    """The new holding would not start after the current one."""


def hand_over(point, customer, start):
    """Close the point's open holding at `start` and open `customer`'s from that day.

    Raises HandOverRefused when `start` is not after the open holding's start."""
    point_id, customer_id = getattr(point, "id", point), getattr(customer, "id", customer)
    with db.atomic():
        current = (Holding.select()
                   .where((Holding.supply_point == point_id) & Holding.end_date.is_null())
                   .first())
        if current is not None:
            if current.customer_id == customer_id:
                return current
            if current.start_date is not None and start <= current.start_date:
                raise HandOverRefused(
                    f"the new holding must start after {current.start_date:%d/%m/%Y}, "
                    "when the current one started")
            Holding.update(end_date=start).where(Holding.id == current.id).execute()
        SupplyPoint.update(customer=customer_id).where(SupplyPoint.id == point_id).execute()
        return Holding.create(supply_point=point_id, customer=customer_id, start_date=start)


def history(point):
    """The holdings of a point, oldest first, with their customers."""
    return list(Holding.select(Holding, Customer)
                .join(Customer)
                .where(Holding.supply_point == getattr(point, "id", point))
                .order_by(Holding.id))


def holdings_by_point(point_ids=None):
    """{point id: [holding, ...] oldest first} (of every point when no ids are given)."""
    query = Holding.select().order_by(Holding.id)
    if point_ids is not None:
        query = query.where(Holding.supply_point.in_(list(point_ids)))
    grouped = collections.defaultdict(list)
    for holding in query.iterator():
        grouped[holding.supply_point_id].append(holding)
    return grouped


def holder_on(holdings, day):
    """The customer id of the holding covering `day`, else of the first one (data from
    before any holding belongs to the first holder), None without holdings."""
    for holding in holdings:
        if holding.covers(day):
            return holding.customer_id
    return holdings[0].customer_id if holdings else None
