"""The demo's customers, households and companies, with their supply points."""
import datetime

from stdnum.it import codicefiscale, iva

from portal.demo import common, people, plans


def _address(rng, comune, streets=people._STREETS):
    number = str(rng.randint(1, 140))
    if rng.random() < 0.1:
        number += "/" + rng.choice("ABC")
    cap = rng.choice(comune.caps)
    return f"{rng.choice(streets)} {number} - {cap} {comune.name} ({comune.province})"


def _landline(rng, comune):
    # Subscriber numbers never start with 0; with a 3-digit prefix they have 7 digits.
    rest = 6 if len(comune.phone_prefix) == 3 else 5
    return f"{comune.phone_prefix} {rng.randint(2, 9)}{rng.randrange(10 ** rest):0{rest}d}"


def _mobile(rng):
    return f"{rng.choice(people._MOBILE_PREFIXES)} {rng.randrange(10 ** 7):07d}"


def _email(rng, local_part, used_emails):
    local_part = "".join(char for char in local_part.lower() if char.isalnum() or char == ".")
    domain = rng.choice(("example.it", "example.com"))
    email = f"{local_part}@{domain}"
    while email in used_emails:
        email = f"{local_part}{rng.randint(1, 99)}@{domain}"
    used_emails.add(email)
    return email


def _comune(rng):
    return rng.choices(people._COMUNI, [comune.weight for comune in people._COMUNI])[0]


def _login_history(rng, today):
    """registered_at, previous_login_at, last_login_at of a registered customer (UTC)."""
    registered = today - datetime.timedelta(days=rng.randint(60, 1100))
    previous = today - datetime.timedelta(days=rng.randint(5, 40))
    last = previous + datetime.timedelta(days=rng.randint(1, 4))
    return (common._utc(registered, rng.randint(8, 21), rng.randint(0, 59)),
            common._utc(previous, rng.randint(8, 21), rng.randint(0, 59)),
            common._utc(last, rng.randint(8, 21), rng.randint(0, 59)))


def _person(rng, code, used_tax_codes, used_emails):
    female = rng.random() < 0.5
    while True:
        surname = rng.choice(people._SURNAMES)
        first_name = rng.choice(people._FEMALE_NAMES if female else people._MALE_NAMES)
        birth_date = datetime.date(1938, 1, 1) + datetime.timedelta(days=rng.randrange(64 * 365))
        tax_code = people._codice_fiscale(surname, first_name, birth_date, female,
                                          common._weighted(rng, people._BIRTHPLACES))
        if tax_code not in used_tax_codes:
            break
    used_tax_codes.add(tax_code)
    comune = _comune(rng)
    late_payer = rng.random() < 0.12
    return plans._CustomerPlan(
        code=code,
        name=f"{surname} {first_name}",
        tax_code=tax_code,
        is_company=False,
        address=_address(rng, comune),
        comune=comune,
        phone=_mobile(rng) if rng.random() < 0.7 else _landline(rng, comune),
        # Some customers never gave an e-mail: registration asks them for one.
        email=_email(rng, f"{first_name}.{surname}", used_emails) if rng.random() < 0.85 else "",
        payment_method=plans.BOLLETTINO if late_payer or rng.random() < 0.4 else plans.SDD,
        late_payer=late_payer,
    )


def _company_name(rng, activity):
    surname = rng.choice(people._SURNAMES)
    legal_form = rng.choices(("S.R.L.", "S.N.C.", "S.A.S.", "S.P.A."), (55, 20, 15, 10))[0]
    if legal_form == "S.N.C.":
        if rng.random() < 0.5:
            return f"F.LLI {surname} S.N.C."
        return f"{activity} {surname} DI {surname} {rng.choice(people._MALE_NAMES)} & C. S.N.C."
    if legal_form == "S.A.S.":
        return f"{surname} {rng.choice(people._MALE_NAMES + people._FEMALE_NAMES)} & C. S.A.S."
    qualifier = surname if rng.random() < 0.5 else rng.choice(people._QUALIFIERS)
    return f"{activity} {qualifier} {legal_form}"


def _company(rng, code, used_tax_codes, used_emails, used_names):
    activity, gas_range, power_range = rng.choice(people._ACTIVITIES)
    name = _company_name(rng, activity)
    while name in used_names:
        name = _company_name(rng, activity)
    used_names.add(name)
    comune = _comune(rng)
    while True:
        tax_code = people._partita_iva(rng.randrange(100000, 3000000),
                                       people._VAT_OFFICES[comune.province])
        if tax_code not in used_tax_codes:
            break
    used_tax_codes.add(tax_code)
    phone = _landline(rng, comune)
    late_payer = rng.random() < 0.12
    company = plans._CustomerPlan(
        code=code,
        name=name,
        tax_code=tax_code,
        is_company=True,
        address=_address(rng, comune, people._BUSINESS_STREETS),
        comune=comune,
        phone=phone,
        # The fax is the next number on the same line, as small firms had it.
        fax=phone[:-1] + str((int(phone[-1]) + 1) % 10) if rng.random() < 0.7 else "",
        email=_email(rng, common._slug(name.rsplit(" ", 1)[0]).replace("-", "."), used_emails),
        payment_method=(rng.choice((plans.SDD, plans.SDD, plans.BONIFICO)) if not late_payer
                        else plans.BONIFICO),
        late_payer=late_payer,
    )
    return company, gas_range, power_range


def _contract_start(rng, today):
    """The 1st of a month (supply switches take effect then), mostly before 2014."""
    if rng.random() < 0.6:
        year = rng.randint(2004, 2013)
    else:
        year = rng.randint(2014, max(2014, today.year - 1))
    start = datetime.date(year, rng.randint(1, 12), 1)
    return min(start, common._add_months(today.replace(day=1), -6))


class _Codes:
    """Unique random identifiers: supply point codes, PDR, POD, meter serials."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()

    def _unique(self, make):
        value = make()
        while value in self.used:
            value = make()
        self.used.add(value)
        return value

    def point_code(self):
        return self._unique(lambda: f"PR{self.rng.randint(1000, 9899):06d}")

    def pdr(self):
        prefix = self.rng.choice(("03340", "00881", "01052", "02260"))
        return self._unique(lambda: f"{prefix}{self.rng.randrange(10 ** 9):09d}")

    def pod(self):
        distributor = "001" if self.rng.random() < 0.9 else "012"
        return self._unique(lambda: f"IT{distributor}E{self.rng.randrange(10 ** 8):08d}")

    def meter_serial(self, commodity):
        if commodity == common.GAS:
            prefix = self.rng.choice(("PF", "SM", "MT"))
            return self._unique(lambda: f"{prefix}{self.rng.randrange(10 ** 8):08d}")
        return self._unique(lambda: f"CE{self.rng.randrange(10 ** 9):09d}")


def _gas_point(codes, rng, customer, address, annual, use, business, start, *,
               code=None, pdr=None, has_corrector=None, use_category=None, meter_digits=None):
    if has_corrector is None:
        # Volume correctors are mostly on the larger commercial meters (~30% overall).
        has_corrector = rng.random() < ((0.9 if annual > 5000 else 0.5) if business else 0.15)
    if use_category is None:
        if business:
            use_category = "T2" if annual > 3000 else "C1"
        else:
            second_home = use == "Domestico non residente"
            use_category = "C2" if second_home else rng.choice(("C3", "C3", "C3", "C1"))
    return plans._PointPlan(
        code=code or codes.point_code(),
        customer=customer,
        commodity=common.GAS,
        pdr_pod=pdr or codes.pdr(),
        address=address,
        meter_serial=codes.meter_serial(common.GAS),
        business=business,
        use=use,
        contract_start=start,
        expected_annual=round(annual),
        price_type=rng.choice(("Prezzo fisso", "Indicizzato")),
        has_corrector=has_corrector,
        use_category=use_category,
        meter_digits=meter_digits,
    )


def _power_point(codes, rng, customer, address, annual, use, business, start, *,
                 code=None, pod=None, contracted_kw=None):
    if contracted_kw is None:
        if business:
            # Enough power for the peaks of a load factor of about 30%.
            contracted_kw = next((kw for kw in plans._CONTRACTED_POWERS if kw >= annual / 2600),
                                 plans._CONTRACTED_POWERS[-1])
        else:
            contracted_kw = rng.choices((3.0, 4.5, 6.0), (80, 12, 8))[0]
    return plans._PointPlan(
        code=code or codes.point_code(),
        customer=customer,
        commodity=common.ELECTRICITY,
        pdr_pod=pod or codes.pod(),
        address=address,
        meter_serial=codes.meter_serial(common.ELECTRICITY),
        business=business,
        use=use,
        contract_start=start,
        expected_annual=round(annual),
        price_type=rng.choice(("Prezzo fisso", "Indicizzato")),
        contracted_kw=contracted_kw,
    )


def _person_points(codes, rng, person, today):
    points = []
    start = _contract_start(rng, today)
    has_gas = rng.random() < 0.9
    if has_gas:
        points.append(_gas_point(codes, rng, person, person.address, rng.uniform(600, 1600),
                                 "Domestico residente", False, start))
    if not has_gas or rng.random() < 0.65:
        points.append(_power_point(codes, rng, person, person.address, rng.uniform(1800, 3500),
                                   "Domestico residente", False, _contract_start(rng, today)))
    if rng.random() < 0.12:
        seaside = people._COMUNI_BY_NAME[rng.choice(people._SEASIDE)]
        address = _address(rng, seaside)
        start = _contract_start(rng, today)
        points.append(_power_point(codes, rng, person, address, rng.uniform(400, 1200),
                                   "Domestico non residente", False, start))
        if rng.random() < 0.5:
            points.append(_gas_point(codes, rng, person, address, rng.uniform(100, 400),
                                     "Domestico non residente", False, start))
    return points


def _company_points(codes, rng, company, gas_range, power_range, today):
    points = []
    start = _contract_start(rng, today)
    if rng.random() < 0.8:
        points.append(_gas_point(codes, rng, company, company.address,
                                 rng.uniform(*gas_range), "Altri usi", True, start))
    if not points or rng.random() < 0.9:
        points.append(_power_point(codes, rng, company, company.address,
                                   rng.uniform(*power_range), "Altri usi", True, start))
    if rng.random() < 0.3:
        # A second site (warehouse, shop) in the same comune.
        address = _address(rng, company.comune, people._BUSINESS_STREETS)
        make = rng.choice((_gas_point, _power_point))
        low, high = gas_range if make is _gas_point else power_range
        points.append(make(codes, rng, company, address, rng.uniform(low, high) / 3,
                           "Altri usi", True, _contract_start(rng, today)))
    return points


def _fixed_customers(codes, rng, today):
    """123456 (household, not registered), 654321 (company, registered) and 246810
    (registered, the previous holder of the company's PR004413): codes, names, tax
    codes, addresses and supply points are the same for every seed."""
    rossi = plans._CustomerPlan(
        code=common.HOUSEHOLD_CODE,
        name="ROSSI MARIO",
        tax_code=people.HOUSEHOLD_TAX_CODE,
        is_company=False,
        address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)",
        comune=people._COMUNI_BY_NAME["COLLESALVETTI"],
        phone="0586 962418",
        email="mario.rossi@example.it",
        payment_method=plans.SDD,
    )
    rossi.points = [
        _gas_point(codes, rng, rossi, rossi.address, 1200, "Domestico residente", False,
                   datetime.date(2009, 3, 1), code=common.GUIDE_SUPPLY_POINT, pdr="03340009749021",
                   has_corrector=True, use_category="C3", meter_digits=5),
        _power_point(codes, rng, rossi, rossi.address, 2700, "Domestico residente", False,
                     datetime.date(2012, 7, 1), code="PR002875", pod="IT001E04873215",
                     contracted_kw=3.0),
    ]
    registered, previous, last = (today - datetime.timedelta(days=days) for days in (418, 9, 2))
    company = plans._CustomerPlan(
        code=common.COMPANY_CODE,
        name="TERMOMECCANICA COLLESALVETTI S.R.L.",
        tax_code=people.COMPANY_TAX_CODE,
        is_company=True,
        address="VIA DELLE INDUSTRIE 24 - 57014 COLLESALVETTI (LI)",
        comune=people._COMUNI_BY_NAME["COLLESALVETTI"],
        phone="0586 961734",
        fax="0586 961735",
        email="termomeccanica.collesalvetti@example.com",
        payment_method=plans.SDD,
        registered_at=common._utc(registered, 10, 14),
        previous_login_at=common._utc(previous, 8, 47),
        last_login_at=common._utc(last, 16, 31),
    )
    offices = "VIA DELLE INDUSTRIE 26 - 57014 COLLESALVETTI (LI)"
    company.points = [
        _gas_point(codes, rng, company, company.address, 18000, "Altri usi", True,
                   datetime.date(2011, 1, 1), code="PR004410", has_corrector=True,
                   use_category="T2", meter_digits=6),
        _gas_point(codes, rng, company, offices, 2200, "Altri usi", True,
                   datetime.date(2016, 4, 1), code="PR004411", has_corrector=False,
                   use_category="C1"),
        _power_point(codes, rng, company, company.address, 65000, "Altri usi", True,
                     datetime.date(2013, 1, 1), code="PR004412", contracted_kw=30.0),
    ]
    registered, previous, last = (today - datetime.timedelta(days=days) for days in (1650, 260, 40))
    bianchi = plans._CustomerPlan(
        code=common.PREVIOUS_HOLDER_CODE,
        name="BIANCHI LUCIA",
        tax_code=people.PREVIOUS_HOLDER_TAX_CODE,
        is_company=False,
        address="VIA GRANDE 118 - 57123 LIVORNO (LI)",
        comune=people._COMUNI_BY_NAME["LIVORNO"],
        phone="0586 884120",
        email="lucia.bianchi@example.it",
        payment_method=plans.SDD,
        registered_at=common._utc(registered, 18, 5),
        previous_login_at=common._utc(previous, 20, 12),
        last_login_at=common._utc(last, 9, 40),
    )
    # The shop Lucia Bianchi ran until TERMOMECCANICA took the premises over (subentro).
    shop = _gas_point(codes, rng, company, "VIA DEL PORTO 7 - 57014 COLLESALVETTI (LI)", 1500,
                      "Altri usi", True, datetime.date(2014, 3, 1), code=common.HANDOVER_POINT,
                      has_corrector=False, use_category="C1")
    shop.previous_holder = bianchi
    shop.holder_since = common._add_months(today.replace(day=1), -common.HANDOVER_MONTHS)
    company.points.append(shop)
    bianchi.previous_points.append(shop)
    return [rossi, company, bianchi]


def _plan_customers(rng, count, today):
    codes = _Codes(rng)
    fixed = _fixed_customers(codes, rng, today)
    # The fixed customers' own codes, PDR and POD must never be drawn again.
    codes.used.update(value for customer in fixed for point in customer.points
                      for value in (point.code, point.pdr_pod))
    used_tax_codes = {customer.tax_code for customer in fixed}
    used_emails = {customer.email for customer in fixed}
    used_names = {customer.name for customer in fixed}
    customer_codes = [str(code) for code in rng.sample(range(100000, 1000000), count)
                      if str(code) not in common.FIXED_CUSTOMERS][:count - len(fixed)]
    companies = round(count * 0.3) - 1  # 654321 is a company too
    planned = list(fixed)
    for index, code in enumerate(customer_codes):
        if index % 3 == 2 and companies > 0:
            companies -= 1
            customer, gas_range, power_range = _company(rng, code, used_tax_codes,
                                                        used_emails, used_names)
            customer.points = _company_points(codes, rng, customer, gas_range, power_range, today)
        else:
            customer = _person(rng, code, used_tax_codes, used_emails)
            customer.points = _person_points(codes, rng, customer, today)
        if rng.random() < 0.1:
            customer.registered_at, customer.previous_login_at, customer.last_login_at = (
                _login_history(rng, today))
        planned.append(customer)
    # python-stdnum double-checks our check characters: a wrong one raises here.
    for customer in planned:
        if customer.is_company:
            iva.validate(customer.tax_code)
        else:
            codicefiscale.validate(customer.tax_code)
    return planned
