"""The demo's consumption: monthly energy, meters, technical and contract data, measurements."""
import datetime
import functools
import math

import models
from portal import timebands
from portal.demo import common, plans
from portal.formatting import date_it, number_it

# ---------------------------------------------------------------------------
# Consumption, meters and technical / contract data
# ---------------------------------------------------------------------------


def _plan_consumption(points, today, rng):
    """Energy of every month from the first billed one to today's, meter positions
    that stay within the meter's digits, technical and contract data."""
    # One weather for everybody: a cold winter raises every heating bill.
    weather = {year: rng.uniform(0.86, 1.14)
               for year in range(common.FIRST_BILLING_MONTH.year, today.year + 1)}
    for point in points:
        months = list(common._months(point.first_billed_month, today))
        if point.is_gas:
            # Process gas of businesses does not follow the seasons much.
            seasonality = 0.5 if point.business else 1.0
            for month in months:
                share = (seasonality * plans._GAS_MONTHS[month.month - 1] / sum(plans._GAS_MONTHS)
                         + (1 - seasonality) / 12)
                climate = weather[month.year] if month.month in plans._HEATING_MONTHS else 1.0
                point.monthly[month] = (point.expected_annual * share * climate
                                        * rng.uniform(0.92, 1.08))
            _plan_gas_meter(point, rng)
            point.technical_data = _gas_technical_data(point, rng)
        else:
            weights = plans._POWER_MONTHS[point.business]
            if point.business:
                f1_range, f2_range = (0.55, 0.63), (0.18, 0.24)
            else:
                f1_range, f2_range = (0.35, 0.45), (0.28, 0.34)
            for month in months:
                share = weights[month.month - 1] / sum(weights)
                point.monthly[month] = point.expected_annual * share * rng.uniform(0.93, 1.07)
                point.band_shares[month] = (rng.uniform(*f1_range), rng.uniform(*f2_range))
            point.technical_data = _power_technical_data(point)
        point.contract_data = _contract_data(point, rng)


def _plan_gas_meter(point, rng):
    if point.has_corrector:
        # The corrector converts the metered m3 to standard m3 (Smc): little at low
        # pressure (temperature only), a lot at medium pressure.
        medium_pressure = point.expected_annual > 10000
        point.volume_factor = rng.uniform(1.45, 1.6) if medium_pressure else rng.uniform(1.02, 1.05)
    else:
        # Without a corrector the bill applies the conventional coefficient C.
        point.volume_factor = rng.uniform(1.012, 1.025)
    total_smc = sum(point.monthly.values())
    if point.meter_digits is None:
        big = total_smc > 85000 or (point.business and rng.random() < 0.25)
        point.meter_digits = 6 if big else 5
    # Start low enough that the meter never wraps around within the demo.
    room = 10 ** point.meter_digits - 1 - math.ceil(total_smc) - 10
    point.meter_base = rng.randint(0, max(0, min(room, 6 * 10 ** (point.meter_digits - 1))))
    point.corrector_base = rng.randint(0, max(0, min(room, 6 * 10 ** (point.meter_digits - 1))))


def _gas_technical_data(point, rng):
    meter_class = next(name for limit, name in plans._GAS_METER_CLASSES
                       if point.expected_annual <= limit)
    data = {
        "tech_meter_class": meter_class,
        "tech_pressure": "Media pressione" if point.volume_factor > 1.2 else "Bassa pressione",
        "tech_remi": f"345{rng.randrange(10 ** 5):05d}",
        "tech_use_category": plans._USE_CATEGORIES[point.use_category],
    }
    if point.has_corrector:
        data["tech_corrector"] = "Correttore di volume PTZ"
    else:
        data["tech_coefficient_c"] = number_it(point.volume_factor, 6)
    return data


def _power_technical_data(point):
    kw = point.contracted_kw
    three_phase = kw > 6
    return {
        "tech_voltage": "BT 400 V" if three_phase else "BT 230 V",
        "tech_phase": "Trifase" if three_phase else "Monofase",
        "tech_contracted_power_kw": common._kw(kw),
        "tech_available_power_kw": common._kw(kw * 1.1),
        "tech_meter_type": "Contatore elettronico 2G",
        "tech_time_bands": "Trioraria (F1, F2, F3)",
    }


def _contract_data(point, rng):
    return {
        "contract_offer": plans._OFFERS[(point.commodity, point.business, point.price_type)],
        "contract_code": f"CT{point.contract_start.year}-{point.code[2:]}",
        "contract_start": date_it(point.contract_start),
        "contract_price_type": point.price_type,
        "contract_billing_frequency": "Mensile" if point.business else "Bimestrale",
        "contract_payment_method": point.customer.payment_method,
        "contract_use": point.use,
        "contract_invoice_delivery": ("E-mail" if point.customer.email and rng.random() < 0.7
                                      else "Posta ordinaria"),
    }


def _consumed_until(point, day):
    """Billed-unit energy (Smc) from the first billed month to the start of `day`."""
    total = 0.0
    for month, energy in point.monthly.items():
        if month >= day:
            break
        following = timebands.next_month(month)
        if day >= following:
            total += energy
        else:
            total += energy * (day - month).days / (following - month).days
    return total


# ---------------------------------------------------------------------------
# Electricity measurements
# ---------------------------------------------------------------------------

# Index order of the load shapes and band totals below; the calendar is timebands'.
_DAY_KINDS = (timebands.WORKDAY, timebands.SATURDAY, timebands.HOLIDAY)
_BANDS = (timebands.F1, timebands.F2, timebands.F3)


def _day_kind(day):
    """0 working day, 1 Saturday, 2 Sunday or national holiday."""
    return _DAY_KINDS.index(timebands.day_kind(day))


def _band(day_kind, hour):
    """ARERA time band (0 = F1, 1 = F2, 2 = F3) of an hour of a day of that kind."""
    return _BANDS.index(timebands.BAND_BY_HOUR[_DAY_KINDS[day_kind]][hour])


def _bump(hour, center, width):
    return math.exp(-((hour - center) / width) ** 2)


@functools.cache
def _load_shape(business, day_kind, month, slot):
    """Typical power in a quarter-hour slot of the day (arbitrary units, scaled later)."""
    hour = slot / 4 + 0.125
    if business:
        if day_kind == 2:
            return 0.22
        if day_kind == 1:
            return 0.22 + (0.45 if 8 <= hour < 12.5 else 0.0)
        if 7.5 <= hour < 18:
            working = 1.0
        else:
            working = 0.45 if 6.5 <= hour < 7.5 or 18 <= hour < 19 else 0.0
        lunch = 0.3 if 12.5 <= hour < 13.5 else 0.0
        cooling = 0.15 if month in (6, 7, 8) and 11 <= hour < 18 else 0.0
        return 0.22 + 0.78 * working - lunch + cooling
    if day_kind == 0:
        # Someone is often at home in the day (retired, working from home): that
        # keeps F1 near the 35-45% of real household bills.
        daytime = 0.2 if 8.5 <= hour < 18.5 else 0.0
        shape = (0.12 + daytime + 0.45 * _bump(hour, 7.4, 0.8) + 0.4 * _bump(hour, 13.0, 1.2)
                 + 0.8 * _bump(hour, 20.6, 1.6))
    else:
        shape = (0.12 + 0.5 * _bump(hour, 9.5, 1.5) + 0.6 * _bump(hour, 13.0, 1.2)
                 + 0.25 * _bump(hour, 16.0, 2.0) + 0.85 * _bump(hour, 20.6, 1.6))
    if month in (6, 7, 8):
        shape += 0.45 * _bump(hour, 15.5, 2.0)  # air conditioning
    elif month in (11, 12, 1, 2):
        shape += 0.15 * _bump(hour, 18.0, 1.5)  # lights on earlier
    return shape


def _closed(point, day, vacations):
    """Days on which only the base load runs: business closures, family holidays."""
    if point.business:
        return (day.month == 8 and 8 <= day.day <= 21) or (day.month, day.day) >= (12, 24) or \
            (day.month == 1 and day.day <= 6)
    return day in vacations


def _measurement_series(point, first_day, end_day, rng):
    """Rows (point id, timestamp, kWh, kW) every 15 minutes of the local days
    [first_day, end_day), scaled to the point's yearly consumption, with two gaps of
    a few hours; also fills point.measured_days for the billing."""
    start = int(datetime.datetime.combine(first_day, datetime.time(), models.ROME).timestamp())
    end = int(datetime.datetime.combine(end_day, datetime.time(), models.ROME).timestamp())
    # A family week at the sea in August, every year.
    vacations = set()
    for year in range(first_day.year, end_day.year + 1):
        leave = datetime.date(year, 8, rng.randint(1, 17))
        vacations.update(leave + datetime.timedelta(days=offset)
                         for offset in range(rng.randint(7, 14)))
    timestamps, values, days, bands = [], [], [], []
    current_day = None
    for timestamp in range(start, end, common._INTERVAL):
        local = datetime.datetime.fromtimestamp(timestamp, models.ROME)
        day = local.date()
        if day != current_day:
            current_day = day
            kind = _day_kind(day)
            closed = _closed(point, day, vacations)
            day_factor = rng.uniform(0.85, 1.15)
            # Washing machine, oven, dishwasher: short high loads at home.
            appliances = [] if point.business or closed else [
                (rng.randint(36, 84), rng.randint(4, 8), rng.uniform(1.0, 1.6))
                for _ in range(rng.choice((0, 1, 1, 2)))]
        slot = local.hour * 4 + local.minute // 15
        if closed:
            value = _load_shape(point.business, 2, local.month, 0)
        else:
            value = _load_shape(point.business, kind, local.month, slot)
            value += sum(power for first, length, power in appliances
                         if first <= slot < first + length)
        timestamps.append(timestamp)
        values.append(value * day_factor * rng.uniform(0.8, 1.2))
        days.append(day)
        bands.append(_band(kind, local.hour))
    # Scale to the expected yearly energy; the meter cannot exceed the available power.
    scale = point.expected_annual * (end_day - first_day).days / 365.25 / sum(values)
    cap = point.contracted_kw * 1.1 / 4
    # Gaps: the meter did not answer for a few hours, twice.
    missing = set()
    for _ in range(2):
        gap_start = rng.randrange(96 * 7, len(timestamps) - 96 * 7)
        missing.update(range(gap_start, gap_start + rng.randint(8, 24)))
    rows = []
    point.measured_days = {}
    for index, timestamp in enumerate(timestamps):
        if index in missing:
            continue
        energy = round(min(values[index] * scale, cap), 3)
        power = round(energy * 4, 3)
        rows.append((point.id, timestamp, energy, power))
        totals = point.measured_days.setdefault(days[index], [0.0, 0.0, 0.0, 0.0])
        totals[bands[index]] += energy
        totals[3] = max(totals[3], power)
    return rows


def _measured_points(customers, rng):
    """The electricity points of 123456 and 654321 and four more, registered
    customers first (they can log in and see them)."""
    fixed, registered, others = [], [], []
    for customer in customers:
        for point in customer.points:
            if point.is_gas:
                continue
            if customer.code in common.FIXED_CUSTOMERS:
                fixed.append(point)
            elif customer.registered_at:
                registered.append(point)
            else:
                others.append(point)
    rng.shuffle(registered)
    rng.shuffle(others)
    return fixed + (registered + others)[:4]
