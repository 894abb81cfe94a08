"""The demo's bills: billing periods, billed energy, amounts and invoice numbers."""
import datetime
import math
from decimal import Decimal

from portal import timebands
from portal.demo import common, plans


def _yearly_rate(table, day):
    """The table's value at `day`, interpolated between mid-year averages."""
    position = day.year + (day.timetuple().tm_yday - 0.5) / 366 - 0.5
    years = sorted(table)
    if position <= years[0]:
        return table[years[0]]
    if position >= years[-1]:
        return table[years[-1]]
    year = math.floor(position)
    fraction = position - year
    return table[year] * (1 - fraction) + table[year + 1] * fraction


def _billing_periods(point, today):
    """Calendar-aligned periods (bimesters start in odd months for households,
    months for businesses) from the first billed month to the last ended one."""
    length = 1 if point.business else 2
    start = point.first_billed_month
    while True:
        end_month = start.replace(month=start.month + length - 1 - (start.month - 1) % length)
        end = timebands.next_month(end_month) - datetime.timedelta(days=1)
        if end >= today:
            return
        yield start, end
        start = end + datetime.timedelta(days=1)


def _billed_energy(point, start, end, rng):
    """(total, (F1, F2, F3) or None, max kW or None) of a billing period: from the
    measurements where they cover it, else from the monthly plan."""
    measured = point.measured_days or {}
    if start in measured and end in measured:
        days = [point.measured_days[day] for day in point.measured_days if start <= day <= end]
        bands = tuple(round(sum(totals[band] for totals in days)) for band in range(3))
        return sum(bands), bands, round(max(totals[3] for totals in days), 2)
    months = list(common._months(start, end))
    total = sum(point.monthly[month] for month in months)
    if point.is_gas:
        return round(total), None, None
    f1 = round(sum(point.monthly[month] * point.band_shares[month][0] for month in months))
    f2 = round(sum(point.monthly[month] * point.band_shares[month][1] for month in months))
    f3 = round(total) - f1 - f2
    peak = point.contracted_kw * rng.uniform(0.55, 1.05)
    return f1 + f2 + f3, (f1, f2, f3), round(min(peak, point.contracted_kw * 1.1), 2)


def _bill_lines(point, energy, start, end):
    """The summary lines of the bill (label, amount), the taxable total and the VAT."""
    tariff = plans._TARIFFS[(point.commodity, point.business)]
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    midpoint = start + (end - start) / 2
    price = _yearly_rate(plans._GAS_PRICE if point.is_gas else plans._POWER_PRICE, midpoint)
    # The government zeroed the system charges during the 2022 energy crisis.
    system_rate = 0.0 if midpoint.year == 2022 else tariff.system_rate
    power_fixed = tariff.power_rate * (point.contracted_kw or 0)
    lines = [
        ("Spesa per la materia gas naturale" if point.is_gas else "Spesa per la materia energia",
         common._money(energy * price + tariff.sale_fixed * months)),
        ("Spesa per il trasporto e la gestione del contatore",
         common._money(energy * tariff.network_rate
                       + (tariff.network_fixed + power_fixed) * months)),
        ("Spesa per oneri di sistema", common._money(energy * system_rate)),
        ("Imposte", common._money(energy * tariff.excise_rate)),
    ]
    taxable = sum((amount for _, amount in lines), Decimal("0.00"))
    return lines, taxable, common._money(taxable * tariff.vat)


def _plan_invoices(point, today, rng):
    invoices = []
    for start, end in _billing_periods(point, today):
        issued = end + datetime.timedelta(days=rng.randint(3, 12))
        if issued > today:
            break
        energy, bands, max_power = _billed_energy(point, start, end, rng)
        lines, taxable, vat = _bill_lines(point, energy, start, end)
        # Some older PDFs never reached the archive; those of the last year all did.
        with_pdf = issued > today - datetime.timedelta(days=365) or rng.random() > 0.12
        invoices.append(plans._InvoicePlan(point, issued, start, end, energy, bands,
                                           max_power, lines, taxable, vat, with_pdf))
    unpaid = 2 if point.customer.late_payer else 1
    for invoice in invoices[-unpaid:]:
        invoice.paid = False
    return invoices


def _number_invoices(invoices):
    """FT<year>-<6 digits>, sequential per year in order of issue."""
    invoices.sort(key=lambda invoice: (invoice.date, invoice.point.code))
    sequence = {}
    for invoice in invoices:
        sequence[invoice.date.year] = sequence.get(invoice.date.year, 0) + 1
        invoice.number = f"FT{invoice.date.year}-{sequence[invoice.date.year]:06d}"
