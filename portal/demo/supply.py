"""Reproducible demo data for the portal.

`generate()` fills an empty database with the customers of a small Tuscan gas and
electricity utility: supply points, invoices since January 2014 with their PDFs,
billed consumption, 15-minute electricity measurements, documents, forms, reading
windows and gas self-readings. Everything derives from the seed and from `today`, so
the same arguments give the same rows and files (password hashes aside: argon2 salts
every hash at random).

Two customers are fixed so that a demo can follow a script:
- 123456, ROSSI MARIO, not registered yet (try "Registrazione nuovo utente" with
  HOUSEHOLD_TAX_CODE), with gas point PR002874 of the customer guide and electricity
  point PR002875;
- 654321, a company (partita IVA COMPANY_TAX_CODE) already registered with password
  DEMO_PASSWORD, with two gas points (one with a volume corrector) and one
  electricity point.
The log of generate() ends with these identities.
"""
import calendar
import datetime
import functools
import math
import random
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from fpdf import FPDF, XPos, YPos
from stdnum.it import codicefiscale, iva

from portal import charts
import models
from portal import passwords
from models import (
    BilledConsumption,
    Customer,
    Document,
    Form,
    Invoice,
    Measurement,
    ReadingWindow,
    SelfReading,
    SupplyPoint,
    Ticket,
    TicketMessage,
)

DEMO_PASSWORD = "Collesalvetti-2015"
HOUSEHOLD_CODE = "123456"  # not registered yet: for the registration demo
COMPANY_CODE = "654321"  # registered, password DEMO_PASSWORD
FIXED_CUSTOMERS = (HOUSEHOLD_CODE, COMPANY_CODE)
GUIDE_SUPPLY_POINT = "PR002874"  # the gas point of the customer guide's screenshots
COMPANY_NAME = "Energia Colline Toscane S.p.A."
DEFAULT_SEED = 20150215
# The portal shows invoices since 2014 (customer guide, "Elenco fatture").
FIRST_BILLING_MONTH = datetime.date(2014, 1, 1)
GAS = SupplyPoint.GAS
ELECTRICITY = SupplyPoint.ELECTRICITY

# SQLite accepts at most 32766 parameters per statement.
_MAX_PARAMETERS = 32000
_BATCH_ROWS = 5000
_INTERVAL = 900  # seconds in a 15-minute measurement interval

# ---------------------------------------------------------------------------
# Italian names, places and addresses
# ---------------------------------------------------------------------------

_SURNAMES = (
    "BIANCHI", "RUSSO", "FERRARI", "ESPOSITO", "ROMANO", "COLOMBO", "RICCI", "MARINO",
    "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "MANCINI", "COSTA", "GIORDANO",
    "LOMBARDI", "MORETTI", "BARBIERI", "BERTINI", "LAZZERINI", "PARDINI", "NICCOLAI",
    "BARTOLINI", "BALDACCI", "GIANNINI", "FRANCESCHI", "DEL CORSO", "LENZI", "CECCHI",
    "FONTANELLI", "BACCI", "TOGNETTI", "PIERACCINI", "SIMONCINI", "D'ANGELO", "NARDI",
    "GUERRINI", "BARONTINI", "CIAMPI", "MAZZANTI", "TADDEI", "BENVENUTI", "PAOLETTI",
    "MARTELLI", "CAPPELLI", "MENICHETTI", "ROSSI",
)
_MALE_NAMES = (
    "MARIO", "LUCA", "MARCO", "ANDREA", "GIOVANNI", "FRANCESCO", "ALESSANDRO", "STEFANO",
    "PAOLO", "ROBERTO", "LORENZO", "MATTEO", "SIMONE", "FABIO", "MASSIMO", "GIUSEPPE",
    "RICCARDO", "DAVIDE", "FEDERICO", "PIERO",
)
_FEMALE_NAMES = (
    "MARIA", "ANNA", "GIULIA", "FRANCESCA", "CHIARA", "SARA", "LAURA", "ELENA", "SILVIA",
    "PAOLA", "VALENTINA", "MARTINA", "ELISA", "BARBARA", "CRISTINA", "FEDERICA",
    "ALESSANDRA", "GIOVANNA", "LUCIA", "SIMONA",
)
# Birthplaces as codici catastali (Belfiore codes) with their weight: mostly the
# Tuscan provincial capitals, a few people born in the big cities.
_BIRTHPLACES = {
    "E625": 30,  # Livorno
    "G702": 12,  # Pisa
    "D612": 8,   # Firenze
    "E715": 5,   # Lucca
    "I726": 3,   # Siena
    "E202": 3,   # Grosseto
    "A390": 2,   # Arezzo
    "G713": 2,   # Pistoia
    "G999": 2,   # Prato
    "F023": 2,   # Massa
    "H501": 5,   # Roma
    "F839": 4,   # Napoli
    "F205": 3,   # Milano
    "D969": 2,   # Genova
    "A944": 2,   # Bologna
}


@dataclass(frozen=True)
class _Comune:
    name: str
    province: str
    caps: tuple
    phone_prefix: str
    weight: int


# Mostly the Livorno and Pisa area around Collesalvetti, where the utility is.
_COMUNI = (
    _Comune("COLLESALVETTI", "LI", ("57014",), "0586", 14),
    _Comune("LIVORNO", "LI", ("57121", "57122", "57123", "57124", "57125", "57126",
                              "57127", "57128"), "0586", 16),
    _Comune("ROSIGNANO MARITTIMO", "LI", ("57016",), "0586", 5),
    _Comune("CECINA", "LI", ("57023",), "0586", 4),
    _Comune("PIOMBINO", "LI", ("57025",), "0565", 3),
    _Comune("PISA", "PI", ("56121", "56122", "56123", "56124", "56125", "56127"), "050", 8),
    _Comune("CASCINA", "PI", ("56021",), "050", 3),
    _Comune("PONTEDERA", "PI", ("56025",), "0587", 3),
    _Comune("FAUGLIA", "PI", ("56043",), "050", 3),
    _Comune("VOLTERRA", "PI", ("56048",), "0588", 1),
    _Comune("LUCCA", "LU", ("55100",), "0583", 2),
    _Comune("VIAREGGIO", "LU", ("55049",), "0584", 2),
    _Comune("FIRENZE", "FI", ("50129", "50134", "50136", "50142"), "055", 3),
    _Comune("EMPOLI", "FI", ("50053",), "0571", 2),
    _Comune("SIENA", "SI", ("53100",), "0577", 1),
    _Comune("GROSSETO", "GR", ("58100",), "0564", 1),
    _Comune("AREZZO", "AR", ("52100",), "0575", 1),
    _Comune("PRATO", "PO", ("59100",), "0574", 1),
)
_COMUNI_BY_NAME = {comune.name: comune for comune in _COMUNI}
# Second homes are at the seaside.
_SEASIDE = ("ROSIGNANO MARITTIMO", "CECINA", "PIOMBINO", "VIAREGGIO")
# The provincial office code (digits 8-10 of a partita IVA) is the ISTAT province code.
_VAT_OFFICES = {"LI": "049", "PI": "050", "LU": "046", "FI": "048", "SI": "052",
                "GR": "053", "AR": "051", "PO": "100"}
_STREETS = (
    "VIA ROMA", "VIA GARIBALDI", "VIA MAZZINI", "VIA DEI POGGI", "VIA DELLA REPUBBLICA",
    "VIA G. MATTEOTTI", "VIALE G. CARDUCCI", "VIA DEL MARE", "PIAZZA DELLA VITTORIA",
    "VIA DELLE COLLINE", "VIA AURELIA", "VIA PISANA", "VIA DEL BOSCO",
    "VIA SAN FRANCESCO", "VIA DEI MILLE", "VIA CAVOUR", "VIA A. GRAMSCI",
    "VIA XX SETTEMBRE", "VIA DELLA STAZIONE", "VIA DEI GIGLI", "VIA DELLE VIOLE",
    "VIA DI SALVIANO", "VIA DELLE SORGENTI", "VIA DON MINZONI", "VIA DELLA PACE",
    "VIA DEL PONTE", "VIA DEI PINI", "VIA S. ALLENDE",
)
_BUSINESS_STREETS = (
    "VIA DEL LAVORO", "VIA DELL'ARTIGIANATO", "VIA DELLE INDUSTRIE", "VIA E. FERMI",
    "VIA A. VOLTA", "VIA G. MARCONI", "VIA AURELIA", "VIA PROVINCIALE PISANA",
    "VIA DEL COMMERCIO", "VIA DELLE OFFICINE",
)
_MOBILE_PREFIXES = ("320", "328", "329", "333", "335", "338", "339", "340", "345", "347",
                    "348", "349", "366", "380", "388", "392")
# Business activities with the ranges of their yearly gas (Smc) and electricity (kWh).
_ACTIVITIES = (
    ("PANIFICIO", (8000, 25000), (20000, 60000)),
    ("TRATTORIA", (4000, 12000), (15000, 40000)),
    ("AUTOFFICINA", (2000, 6000), (10000, 30000)),
    ("FERRAMENTA", (1200, 3000), (6000, 15000)),
    ("IMMOBILIARE", (1000, 2500), (3000, 8000)),
    ("HOTEL", (10000, 30000), (40000, 120000)),
    ("CASEIFICIO", (8000, 20000), (40000, 100000)),
    ("LAVANDERIA", (6000, 15000), (20000, 50000)),
    ("FALEGNAMERIA", (1500, 4000), (15000, 40000)),
    ("TIPOGRAFIA", (1500, 4000), (15000, 45000)),
    ("CARROZZERIA", (3000, 8000), (15000, 35000)),
    ("STUDIO TECNICO", (800, 2000), (4000, 10000)),
    ("ORTOFRUTTA", (1000, 2500), (10000, 25000)),
    ("AGRITURISMO", (3000, 9000), (15000, 35000)),
)
_QUALIFIERS = ("DEL TIRRENO", "DELLE COLLINE", "VALDERA", "SAN MARCO", "LA TORRE",
               "IL POGGIO", "DEL CENTRO", "DUE MARI")

# ---------------------------------------------------------------------------
# Offers, tariffs and prices
# ---------------------------------------------------------------------------

_OFFERS = {
    (GAS, False, "Prezzo fisso"): "Gas Casa Fisso",
    (GAS, False, "Indicizzato"): "Gas Casa Indice PSV",
    (GAS, True, "Prezzo fisso"): "Gas Impresa Fisso",
    (GAS, True, "Indicizzato"): "Gas Impresa PSV",
    (ELECTRICITY, False, "Prezzo fisso"): "Luce Casa Verde",
    (ELECTRICITY, False, "Indicizzato"): "Luce Casa Indice PUN",
    (ELECTRICITY, True, "Prezzo fisso"): "Luce Impresa Fissa",
    (ELECTRICITY, True, "Indicizzato"): "Luce Impresa PUN Trioraria",
}
SDD = "Domiciliazione bancaria (SDD)"
BOLLETTINO = "Bollettino"
BONIFICO = "Bonifico bancario"

# Yearly average of the commodity price (EUR per Smc or kWh, VAT excluded): flat
# until 2020, the 2022 energy crisis, then the slow way down.
_GAS_PRICE = {2013: 0.42, 2014: 0.40, 2015: 0.36, 2016: 0.30, 2017: 0.31, 2018: 0.34,
              2019: 0.31, 2020: 0.24, 2021: 0.42, 2022: 1.15, 2023: 0.62, 2024: 0.50,
              2025: 0.52, 2026: 0.47}
_POWER_PRICE = {2013: 0.088, 2014: 0.085, 2015: 0.080, 2016: 0.070, 2017: 0.075,
                2018: 0.080, 2019: 0.075, 2020: 0.065, 2021: 0.140, 2022: 0.320,
                2023: 0.170, 2024: 0.140, 2025: 0.140, 2026: 0.130}


@dataclass(frozen=True)
class _Tariff:
    """Regulated parts of a bill, per unit (Smc or kWh) unless said otherwise."""

    sale_fixed: float       # EUR per month
    network_rate: float
    network_fixed: float    # EUR per month
    power_rate: float       # EUR per contracted kW per month (electricity)
    system_rate: float
    excise_rate: float      # accisa, plus the regional surcharge for gas
    vat: Decimal


_TARIFFS = {
    (GAS, False): _Tariff(6.5, 0.110, 5.2, 0.0, 0.045, 0.190, Decimal("0.10")),
    (GAS, True): _Tariff(12.0, 0.080, 14.0, 0.0, 0.035, 0.025, Decimal("0.22")),
    (ELECTRICITY, False): _Tariff(6.0, 0.0095, 1.8, 1.85, 0.042, 0.0227, Decimal("0.10")),
    (ELECTRICITY, True): _Tariff(11.0, 0.0085, 2.5, 2.00, 0.038, 0.0125, Decimal("0.22")),
}
# Share of the yearly gas by month: heating makes the winter.
_GAS_MONTHS = (0.180, 0.155, 0.115, 0.070, 0.035, 0.020, 0.015, 0.015, 0.020, 0.050,
               0.110, 0.175)
_POWER_MONTHS = {
    False: (1.08, 1.00, 0.95, 0.88, 0.86, 0.95, 1.18, 1.08, 0.95, 0.90, 0.98, 1.12),
    # Businesses close for two weeks in August.
    True: (1.00, 1.00, 1.02, 0.97, 1.00, 1.05, 1.10, 0.62, 1.05, 1.05, 1.02, 0.90),
}
_HEATING_MONTHS = (1, 2, 3, 4, 10, 11, 12)
_CONTRACTED_POWERS = (6.0, 10.0, 15.0, 20.0, 30.0, 50.0)
_GAS_METER_CLASSES = ((2000, "G4"), (5000, "G6"), (10000, "G10"), (20000, "G16"),
                      (math.inf, "G25"))
_USE_CATEGORIES = {
    "C1": "C1 - Riscaldamento",
    "C2": "C2 - Uso cottura cibi e/o produzione di acqua calda sanitaria",
    "C3": "C3 - Riscaldamento + uso cottura cibi e/o produzione di acqua calda sanitaria",
    "T2": "T2 - Uso tecnologico + riscaldamento",
}

# ---------------------------------------------------------------------------
# Plans: what will become rows, with what the later steps need to derive from it
# ---------------------------------------------------------------------------


@dataclass
class _CustomerPlan:
    code: str
    name: str
    tax_code: str
    is_company: bool
    address: str
    comune: _Comune
    phone: str
    fax: str = ""
    email: str = ""
    payment_method: str = SDD
    late_payer: bool = False
    registered_at: datetime.datetime | None = None
    previous_login_at: datetime.datetime | None = None
    last_login_at: datetime.datetime | None = None
    points: list = field(default_factory=list)
    id: int | None = None


@dataclass
class _PointPlan:
    code: str
    customer: _CustomerPlan
    commodity: str
    pdr_pod: str
    address: str
    meter_serial: str
    business: bool
    use: str
    contract_start: datetime.date
    expected_annual: float
    price_type: str
    has_corrector: bool = False
    meter_digits: int | None = None  # None: gas meters get 5 or 6 from their consumption
    contracted_kw: float | None = None
    use_category: str = "C3"
    technical_data: dict = field(default_factory=dict)
    contract_data: dict = field(default_factory=dict)
    id: int | None = None
    # Filled by _plan_consumption: energy per month (keyed by the 1st of the month),
    # electricity band shares per month, the meter's starting positions and the
    # ratio between billed Smc and the m3 the meter counts.
    monthly: dict = field(default_factory=dict)
    band_shares: dict = field(default_factory=dict)
    meter_base: int = 0
    corrector_base: int = 0
    volume_factor: float = 1.0
    # Filled from the measurements: per local day [F1, F2, F3 kWh, max kW].
    measured_days: dict | None = None

    @property
    def is_gas(self):
        return self.commodity == GAS

    @property
    def first_billed_month(self):
        return max(FIRST_BILLING_MONTH, self.contract_start.replace(day=1))


@dataclass
class _InvoicePlan:
    point: _PointPlan
    date: datetime.date
    period_start: datetime.date
    period_end: datetime.date
    energy: int
    bands: tuple | None
    max_power: float | None
    lines: list
    taxable: Decimal
    vat: Decimal
    with_pdf: bool
    number: str = ""
    paid: bool = True

    @property
    def due_date(self):
        return self.date + datetime.timedelta(days=20)

    @property
    def total(self):
        return self.taxable + self.vat


@dataclass
class _DocumentPlan:
    customer: _CustomerPlan
    title: str
    date: datetime.date
    subject: str
    paragraphs: list
    table: tuple | None = None  # (column titles, rows)

    @property
    def file_path(self):
        return f"documents/{self.customer.code}/{self.date.isoformat()}-{_slug(self.title)}.pdf"


# ---------------------------------------------------------------------------
# Tax codes
# ---------------------------------------------------------------------------

_CF_MONTHS = "ABCDEHLMPRST"
# Values of the characters in odd positions (1st, 3rd, ...): digit d counts as the
# d-th letter.
_CF_ODD_VALUES = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14,
                  16, 10, 22, 25, 24, 23)


def _cf_letters(text):
    letters = [char for char in text.upper() if "A" <= char <= "Z"]
    consonants = [char for char in letters if char not in "AEIOU"]
    vowels = [char for char in letters if char in "AEIOU"]
    return consonants, vowels


def _codice_fiscale(surname, name, birth_date, female, comune_code):
    """The 16-character codice fiscale of a person (no omocodia handling)."""
    consonants, vowels = _cf_letters(surname)
    surname_part = "".join(consonants + vowels + ["X"] * 3)[:3]
    consonants, vowels = _cf_letters(name)
    if len(consonants) >= 4:
        # A first name with four or more consonants skips the second one.
        consonants = [consonants[0], consonants[2], consonants[3]]
    name_part = "".join(consonants + vowels + ["X"] * 3)[:3]
    day = birth_date.day + (40 if female else 0)
    body = (f"{surname_part}{name_part}{birth_date.year % 100:02d}"
            f"{_CF_MONTHS[birth_date.month - 1]}{day:02d}{comune_code}")
    total = 0
    for position, char in enumerate(body):
        value = int(char) if char.isdigit() else ord(char) - ord("A")
        total += _CF_ODD_VALUES[value] if position % 2 == 0 else value
    return body + chr(ord("A") + total % 26)


def _partita_iva(serial, office):
    """11 digits: company serial (7), provincial office (3), Luhn check digit."""
    digits = f"{serial:07d}{office}"
    total = 0
    for position, char in enumerate(digits):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return digits + str((10 - total % 10) % 10)


COMPANY_VAT = _partita_iva(1843270, "049")
# The fixed customers' tax codes, for the README and the tests.
HOUSEHOLD_TAX_CODE = _codice_fiscale("ROSSI", "MARIO", datetime.date(1968, 4, 12), False, "E625")
COMPANY_TAX_CODE = _partita_iva(1487305, "049")
_COMPANY_DETAILS = (f"Via dell'Energia 1 - 57121 Livorno (LI) - P.IVA {COMPANY_VAT} - "
                    "Servizio clienti 0586 000100 - assistenza@example.it")

# ---------------------------------------------------------------------------
# Small formatting and calendar helpers
# ---------------------------------------------------------------------------

_CENT = Decimal("0.01")


def _money(value):
    return Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


def _it_number(value, decimals=0):
    """1234.5 -> "1.234,50": Italian separators."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _it_decimal(value):
    """3.0 -> "3", 3.3 -> "3,3", 4.95 -> "4,95"."""
    return _it_number(value, 2).rstrip("0").rstrip(",")


def _it_date(day):
    return day.strftime("%d/%m/%Y")


def _slug(text):
    return "-".join("".join(char if char.isalnum() else " " for char in text.lower()).split())


def _next_month(day):
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def _add_months(day, months):
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _months(first, last):
    """The 1st of every month from first's month to last's month, both included."""
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = _next_month(month)


def _utc(day, hour, minute=0):
    """A Rome wall-clock time as the naive UTC datetime the models store."""
    local = datetime.datetime.combine(day, datetime.time(hour, minute), models.ROME)
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


# Index order of the load shapes and band totals below; the calendar is charts'.
_DAY_KINDS = (charts.WORKDAY, charts.SATURDAY, charts.HOLIDAY)
_BANDS = (charts.F1, charts.F2, charts.F3)


def _day_kind(day):
    """0 working day, 1 Saturday, 2 Sunday or national holiday."""
    return _DAY_KINDS.index(charts.day_kind(day))


def _band(day_kind, hour):
    """ARERA time band (0 = F1, 1 = F2, 2 = F3) of an hour of a day of that kind."""
    return _BANDS.index(charts.BAND_BY_HOUR[_DAY_KINDS[day_kind]][hour])


def _weighted(rng, weights):
    """A key of `weights` drawn with probability proportional to its value."""
    return rng.choices(list(weights), list(weights.values()))[0]


# ---------------------------------------------------------------------------
# Customers and supply points
# ---------------------------------------------------------------------------


def _address(rng, comune, streets=_STREETS):
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
    return f"{rng.choice(_MOBILE_PREFIXES)} {rng.randrange(10 ** 7):07d}"


def _email(rng, local_part, used_emails):
    local_part = "".join(char for char in local_part.lower() if char.isalnum() or char == ".")
    domain = rng.choice(("example.it", "example.com"))
    email = f"{local_part}@{domain}"
    while email in used_emails:
        email = f"{local_part}{rng.randint(1, 99)}@{domain}"
    used_emails.add(email)
    return email


def _comune(rng):
    return rng.choices(_COMUNI, [comune.weight for comune in _COMUNI])[0]


def _login_history(rng, today):
    """registered_at, previous_login_at, last_login_at of a registered customer (UTC)."""
    registered = today - datetime.timedelta(days=rng.randint(60, 1100))
    previous = today - datetime.timedelta(days=rng.randint(5, 40))
    last = previous + datetime.timedelta(days=rng.randint(1, 4))
    return (_utc(registered, rng.randint(8, 21), rng.randint(0, 59)),
            _utc(previous, rng.randint(8, 21), rng.randint(0, 59)),
            _utc(last, rng.randint(8, 21), rng.randint(0, 59)))


def _person(rng, code, used_tax_codes, used_emails):
    female = rng.random() < 0.5
    while True:
        surname = rng.choice(_SURNAMES)
        first_name = rng.choice(_FEMALE_NAMES if female else _MALE_NAMES)
        birth_date = datetime.date(1938, 1, 1) + datetime.timedelta(days=rng.randrange(64 * 365))
        tax_code = _codice_fiscale(surname, first_name, birth_date, female,
                                   _weighted(rng, _BIRTHPLACES))
        if tax_code not in used_tax_codes:
            break
    used_tax_codes.add(tax_code)
    comune = _comune(rng)
    late_payer = rng.random() < 0.12
    return _CustomerPlan(
        code=code,
        name=f"{surname} {first_name}",
        tax_code=tax_code,
        is_company=False,
        address=_address(rng, comune),
        comune=comune,
        phone=_mobile(rng) if rng.random() < 0.7 else _landline(rng, comune),
        # Some customers never gave an e-mail: registration asks them for one.
        email=_email(rng, f"{first_name}.{surname}", used_emails) if rng.random() < 0.85 else "",
        payment_method=BOLLETTINO if late_payer or rng.random() < 0.4 else SDD,
        late_payer=late_payer,
    )


def _company_name(rng, activity):
    surname = rng.choice(_SURNAMES)
    legal_form = rng.choices(("S.R.L.", "S.N.C.", "S.A.S.", "S.P.A."), (55, 20, 15, 10))[0]
    if legal_form == "S.N.C.":
        if rng.random() < 0.5:
            return f"F.LLI {surname} S.N.C."
        return f"{activity} {surname} DI {surname} {rng.choice(_MALE_NAMES)} & C. S.N.C."
    if legal_form == "S.A.S.":
        return f"{surname} {rng.choice(_MALE_NAMES + _FEMALE_NAMES)} & C. S.A.S."
    qualifier = surname if rng.random() < 0.5 else rng.choice(_QUALIFIERS)
    return f"{activity} {qualifier} {legal_form}"


def _company(rng, code, used_tax_codes, used_emails, used_names):
    activity, gas_range, power_range = rng.choice(_ACTIVITIES)
    name = _company_name(rng, activity)
    while name in used_names:
        name = _company_name(rng, activity)
    used_names.add(name)
    comune = _comune(rng)
    while True:
        tax_code = _partita_iva(rng.randrange(100000, 3000000), _VAT_OFFICES[comune.province])
        if tax_code not in used_tax_codes:
            break
    used_tax_codes.add(tax_code)
    phone = _landline(rng, comune)
    late_payer = rng.random() < 0.12
    company = _CustomerPlan(
        code=code,
        name=name,
        tax_code=tax_code,
        is_company=True,
        address=_address(rng, comune, _BUSINESS_STREETS),
        comune=comune,
        phone=phone,
        # The fax is the next number on the same line, as small firms had it.
        fax=phone[:-1] + str((int(phone[-1]) + 1) % 10) if rng.random() < 0.7 else "",
        email=_email(rng, _slug(name.rsplit(" ", 1)[0]).replace("-", "."), used_emails),
        payment_method=rng.choice((SDD, SDD, BONIFICO)) if not late_payer else BONIFICO,
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
    return min(start, _add_months(today.replace(day=1), -6))


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
        if commodity == GAS:
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
    return _PointPlan(
        code=code or codes.point_code(),
        customer=customer,
        commodity=GAS,
        pdr_pod=pdr or codes.pdr(),
        address=address,
        meter_serial=codes.meter_serial(GAS),
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
            contracted_kw = next((kw for kw in _CONTRACTED_POWERS if kw >= annual / 2600),
                                 _CONTRACTED_POWERS[-1])
        else:
            contracted_kw = rng.choices((3.0, 4.5, 6.0), (80, 12, 8))[0]
    return _PointPlan(
        code=code or codes.point_code(),
        customer=customer,
        commodity=ELECTRICITY,
        pdr_pod=pod or codes.pod(),
        address=address,
        meter_serial=codes.meter_serial(ELECTRICITY),
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
        seaside = _COMUNI_BY_NAME[rng.choice(_SEASIDE)]
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
        address = _address(rng, company.comune, _BUSINESS_STREETS)
        make = rng.choice((_gas_point, _power_point))
        low, high = gas_range if make is _gas_point else power_range
        points.append(make(codes, rng, company, address, rng.uniform(low, high) / 3,
                           "Altri usi", True, _contract_start(rng, today)))
    return points


def _fixed_customers(codes, rng, today):
    """123456 (household, not registered) and 654321 (company, registered): codes,
    names, tax codes, addresses and supply points are the same for every seed."""
    rossi = _CustomerPlan(
        code=HOUSEHOLD_CODE,
        name="ROSSI MARIO",
        tax_code=HOUSEHOLD_TAX_CODE,
        is_company=False,
        address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)",
        comune=_COMUNI_BY_NAME["COLLESALVETTI"],
        phone="0586 962418",
        email="mario.rossi@example.it",
        payment_method=SDD,
    )
    rossi.points = [
        _gas_point(codes, rng, rossi, rossi.address, 1200, "Domestico residente", False,
                   datetime.date(2009, 3, 1), code=GUIDE_SUPPLY_POINT, pdr="03340009749021",
                   has_corrector=True, use_category="C3", meter_digits=5),
        _power_point(codes, rng, rossi, rossi.address, 2700, "Domestico residente", False,
                     datetime.date(2012, 7, 1), code="PR002875", pod="IT001E04873215",
                     contracted_kw=3.0),
    ]
    registered, previous, last = (today - datetime.timedelta(days=days) for days in (418, 9, 2))
    company = _CustomerPlan(
        code=COMPANY_CODE,
        name="TERMOMECCANICA COLLESALVETTI S.R.L.",
        tax_code=COMPANY_TAX_CODE,
        is_company=True,
        address="VIA DELLE INDUSTRIE 24 - 57014 COLLESALVETTI (LI)",
        comune=_COMUNI_BY_NAME["COLLESALVETTI"],
        phone="0586 961734",
        fax="0586 961735",
        email="termomeccanica.collesalvetti@example.com",
        payment_method=SDD,
        registered_at=_utc(registered, 10, 14),
        previous_login_at=_utc(previous, 8, 47),
        last_login_at=_utc(last, 16, 31),
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
    return [rossi, company]


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
                      if str(code) not in FIXED_CUSTOMERS][:count - len(fixed)]
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


# ---------------------------------------------------------------------------
# Consumption, meters and technical / contract data
# ---------------------------------------------------------------------------


def _plan_consumption(points, today, rng):
    """Energy of every month from the first billed one to today's, meter positions
    that stay within the meter's digits, technical and contract data."""
    # One weather for everybody: a cold winter raises every heating bill.
    weather = {year: rng.uniform(0.86, 1.14)
               for year in range(FIRST_BILLING_MONTH.year, today.year + 1)}
    for point in points:
        months = list(_months(point.first_billed_month, today))
        if point.is_gas:
            # Process gas of businesses does not follow the seasons much.
            seasonality = 0.5 if point.business else 1.0
            for month in months:
                share = (seasonality * _GAS_MONTHS[month.month - 1] / sum(_GAS_MONTHS)
                         + (1 - seasonality) / 12)
                climate = weather[month.year] if month.month in _HEATING_MONTHS else 1.0
                point.monthly[month] = (point.expected_annual * share * climate
                                        * rng.uniform(0.92, 1.08))
            _plan_gas_meter(point, rng)
            point.technical_data = _gas_technical_data(point, rng)
        else:
            weights = _POWER_MONTHS[point.business]
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
    meter_class = next(name for limit, name in _GAS_METER_CLASSES if point.expected_annual <= limit)
    data = {
        "tech_meter_class": meter_class,
        "tech_pressure": "Media pressione" if point.volume_factor > 1.2 else "Bassa pressione",
        "tech_remi": f"345{rng.randrange(10 ** 5):05d}",
        "tech_use_category": _USE_CATEGORIES[point.use_category],
    }
    if point.has_corrector:
        data["tech_corrector"] = "Correttore di volume PTZ"
    else:
        data["tech_coefficient_c"] = _it_number(point.volume_factor, 6)
    return data


def _power_technical_data(point):
    kw = point.contracted_kw
    three_phase = kw > 6
    return {
        "tech_voltage": "BT 400 V" if three_phase else "BT 230 V",
        "tech_phase": "Trifase" if three_phase else "Monofase",
        "tech_contracted_power_kw": _it_decimal(kw),
        "tech_available_power_kw": _it_decimal(kw * 1.1),
        "tech_meter_type": "Contatore elettronico 2G",
        "tech_time_bands": "Trioraria (F1, F2, F3)",
    }


def _contract_data(point, rng):
    return {
        "contract_offer": _OFFERS[(point.commodity, point.business, point.price_type)],
        "contract_code": f"CT{point.contract_start.year}-{point.code[2:]}",
        "contract_start": _it_date(point.contract_start),
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
        following = _next_month(month)
        if day >= following:
            total += energy
        else:
            total += energy * (day - month).days / (following - month).days
    return total


# ---------------------------------------------------------------------------
# Electricity measurements
# ---------------------------------------------------------------------------


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
    for timestamp in range(start, end, _INTERVAL):
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
            if customer.code in FIXED_CUSTOMERS:
                fixed.append(point)
            elif customer.registered_at:
                registered.append(point)
            else:
                others.append(point)
    rng.shuffle(registered)
    rng.shuffle(others)
    return fixed + (registered + others)[:4]


# ---------------------------------------------------------------------------
# Billing
# ---------------------------------------------------------------------------


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
        end = _next_month(end_month) - datetime.timedelta(days=1)
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
    months = list(_months(start, end))
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
    tariff = _TARIFFS[(point.commodity, point.business)]
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    midpoint = start + (end - start) / 2
    price = _yearly_rate(_GAS_PRICE if point.is_gas else _POWER_PRICE, midpoint)
    # The government zeroed the system charges during the 2022 energy crisis.
    system_rate = 0.0 if midpoint.year == 2022 else tariff.system_rate
    power_fixed = tariff.power_rate * (point.contracted_kw or 0)
    lines = [
        ("Spesa per la materia gas naturale" if point.is_gas else "Spesa per la materia energia",
         _money(energy * price + tariff.sale_fixed * months)),
        ("Spesa per il trasporto e la gestione del contatore",
         _money(energy * tariff.network_rate + (tariff.network_fixed + power_fixed) * months)),
        ("Spesa per oneri di sistema", _money(energy * system_rate)),
        ("Imposte", _money(energy * tariff.excise_rate)),
    ]
    taxable = sum((amount for _, amount in lines), Decimal("0.00"))
    return lines, taxable, _money(taxable * tariff.vat)


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
        invoices.append(_InvoicePlan(point, issued, start, end, energy, bands, max_power,
                                     lines, taxable, vat, with_pdf))
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


# ---------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------

_BRAND = (31, 94, 60)
_GREY = (95, 95, 95)
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)


def _new_pdf(title, day, company_name):
    pdf = FPDF(format="A4")
    # The 14 standard PDF fonts with WinAnsiEncoding (cp1252) print "€" and the
    # accented letters; an embedded TTF font costs ~100 ms per file (parsing and
    # subsetting), too slow for thousands of invoices.
    pdf.core_fonts_encoding = "cp1252"
    # Uncompressed content: the demo PDFs stay searchable as bytes (the tests look
    # for the customer code in them) and are quicker to write.
    pdf.set_compression(False)
    # A fixed creation date keeps the files reproducible byte for byte.
    pdf.set_creation_date(datetime.datetime.combine(day, datetime.time(9), models.ROME))
    pdf.set_title(title)
    pdf.set_author(company_name)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    return pdf


# The bills are drawn with text() at baseline coordinates, not cell(): a quarter of
# the cost, and thousands of them are written.
def _text(pdf, x, y, text, size=9, style="", color=_BLACK):
    pdf.set_font("helvetica", style, size)
    pdf.set_text_color(*color)
    pdf.text(x, y, text)


def _text_right(pdf, right, y, text, size=9, style="", color=_BLACK):
    pdf.set_font("helvetica", style, size)
    _text(pdf, right - pdf.get_string_width(text), y, text, size, style, color)


def _wrap(pdf, text, width):
    """Lines of at most `width` mm in the current font, broken between words."""
    lines = [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if lines[-1] and pdf.get_string_width(candidate) > width:
            lines.append(word)
        else:
            lines[-1] = candidate
    return lines


def _letterhead(pdf, company_name):
    pdf.set_fill_color(*_BRAND)
    pdf.rect(0, 0, 210, 4, style="F")
    _text(pdf, 15, 14.5, company_name, 15, "B", _BRAND)
    _text(pdf, 15, 19, _COMPANY_DETAILS, 7.5, color=_GREY)
    pdf.set_draw_color(*_BRAND)
    pdf.line(15, 22, 195, 22)
    pdf.set_draw_color(0)
    pdf.set_text_color(0)


def _recipient(pdf, customer, y):
    """Name and address where a windowed envelope shows them (y: first baseline)."""
    pdf.set_font("helvetica", "B", 10)
    lines = _wrap(pdf, customer.name, 80)
    for index, line in enumerate(lines):
        _text(pdf, 115, y + 5 * index, line, 10, "B")
    for index, line in enumerate(customer.address.split(" - ", 1), start=len(lines)):
        _text(pdf, 115, y + 5 * index, line, 10)


def _section_title(pdf, y, text):
    _text(pdf, 15, y, text, 10, "B", _BRAND)
    pdf.set_draw_color(*_BRAND)
    pdf.line(15, y + 1.5, 195, y + 1.5)
    pdf.set_draw_color(0)


def _label_values(pdf, y, rows):
    for index, (label, value) in enumerate(rows):
        _text(pdf, 15, y + 5 * index, label, 8.5, color=_GREY)
        _text(pdf, 52, y + 5 * index, value, 8.5, "B")


def _invoice_pdf(invoice, company_name):
    """One A4 page laid out like an Italian bill."""
    point = invoice.point
    customer = point.customer
    pdf = _new_pdf(f"Fattura {invoice.number}", invoice.date, company_name)
    _letterhead(pdf, company_name)
    # The customer code goes right under number and date: the customer guide tells
    # customers to look for it there.
    _text(pdf, 15, 34, f"Fattura n. {invoice.number} del {_it_date(invoice.date)}", 12, "B")
    _text(pdf, 15, 40, f"Codice cliente: {customer.code}", 11, "B")
    _text(pdf, 15, 46, f"{'Partita IVA' if customer.is_company else 'Codice fiscale'}: "
                       f"{customer.tax_code}", 9)
    _recipient(pdf, customer, 34)

    pdf.set_fill_color(*_BRAND)
    pdf.rect(15, 56, 180, 9, style="F")
    _text(pdf, 18, 62, "Bolletta gas naturale" if point.is_gas else "Bolletta energia elettrica",
          11, "B", _WHITE)
    _text_right(pdf, 192, 62, f"Periodo dal {_it_date(invoice.period_start)} "
                              f"al {_it_date(invoice.period_end)}", 9, color=_WHITE)

    pdf.set_fill_color(236, 244, 238)
    pdf.rect(15, 70, 180, 22, style="DF")
    _text(pdf, 20, 80, f"Totale da pagare {_it_number(invoice.total, 2)} €", 16, "B")
    _text_right(pdf, 190, 80, f"Scadenza {_it_date(invoice.due_date)}", 11, "B")
    _text(pdf, 20, 87.5, f"Modalità di pagamento: {customer.payment_method}", 8.5)

    _section_title(pdf, 102, "Dati della fornitura")
    supply = [
        ("Punto di fornitura",
         f"{point.code} - {'PDR' if point.is_gas else 'POD'} {point.pdr_pod}"),
        ("Indirizzo", point.address),
        ("Offerta", point.contract_data["contract_offer"]),
        ("Tipo di uso", point.use),
        ("Matricola contatore", point.meter_serial),
    ]
    if not point.is_gas:
        supply.append(("Potenza impegnata", f"{_it_decimal(point.contracted_kw)} kW"))
    _label_values(pdf, 109, supply)

    _section_title(pdf, 144, "Consumi fatturati")
    unit = "Smc" if point.is_gas else "kWh"
    period = f"dal {_it_date(invoice.period_start)} al {_it_date(invoice.period_end)}"
    consumption = [("Periodo", period),
                   ("Consumo fatturato", f"{_it_number(invoice.energy)} {unit}")]
    if invoice.bands:
        f1, f2, f3 = invoice.bands
        consumption.append(("Consumo per fascia",
                            f"F1 {_it_number(f1)} kWh - F2 {_it_number(f2)} kWh - "
                            f"F3 {_it_number(f3)} kWh"))
        consumption.append(("Potenza massima", f"{_it_decimal(invoice.max_power)} kW"))
    _label_values(pdf, 151, consumption)

    _section_title(pdf, 178, "Sintesi degli importi")
    vat_rate = _TARIFFS[(point.commodity, point.business)].vat * 100
    table = invoice.lines + [("Totale imponibile", invoice.taxable),
                             (f"IVA {vat_rate:.0f}%", invoice.vat)]
    y = 185
    pdf.set_draw_color(200)
    for label, amount in table:
        _text(pdf, 15, y, label, 9)
        _text_right(pdf, 195, y, f"{_it_number(amount, 2)} €", 9)
        pdf.line(15, y + 2, 195, y + 2)
        y += 6
    _text(pdf, 15, y + 1, "Totale bolletta", 10, "B")
    _text_right(pdf, 195, y + 1, f"{_it_number(invoice.total, 2)} €", 10, "B")

    _text(pdf, 15, 275, "Per informazioni e reclami: Servizio clienti 0586 000100, "
                        "assistenza@example.it, Area Clienti sul nostro sito.", 7, color=_GREY)
    _text(pdf, 15, 278.5, "Documento dimostrativo con dati di fantasia.", 7, color=_GREY)
    return bytes(pdf.output())


def _document_pdf(document, company_name):
    """A letter to one customer, with an optional table."""
    pdf = _new_pdf(document.title, document.date, company_name)
    _letterhead(pdf, company_name)
    _recipient(pdf, document.customer, 38)
    pdf.set_xy(15, 62)
    pdf.set_font("helvetica", "", 10)
    pdf.cell(0, 5, f"Livorno, {_it_date(document.date)}")
    pdf.set_xy(15, 70)
    pdf.cell(0, 5, f"Codice cliente: {document.customer.code}")
    pdf.set_xy(15, 80)
    pdf.set_font("helvetica", "B", 10)
    pdf.multi_cell(180, 5, f"Oggetto: {document.subject}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("helvetica", "", 10)
    for paragraph in document.paragraphs:
        pdf.multi_cell(180, 5, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    if document.table:
        titles, rows = document.table
        width = 180 / len(titles)
        pdf.set_font("helvetica", "B", 9)
        for title in titles:
            pdf.cell(width, 6, title, border=1)
        pdf.ln()
        pdf.set_font("helvetica", "", 9)
        for row in rows:
            for value in row:
                pdf.cell(width, 6, value, border=1)
            pdf.ln()
        pdf.ln(3)
    pdf.ln(6)
    pdf.cell(0, 5, "Cordiali saluti.")
    pdf.ln(10)
    pdf.set_x(120)
    pdf.cell(75, 5, "Il Servizio Clienti", align="C")
    pdf.ln(5)
    pdf.set_x(120)
    pdf.cell(75, 5, company_name, align="C")
    return bytes(pdf.output())


def _form_pdf(form, day, company_name):
    """A form to print and fill in: fields with lines, choices, signature."""
    pdf = _new_pdf(form["title"], day, company_name)
    _letterhead(pdf, company_name)
    pdf.set_xy(15, 30)
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, form["title"].upper())
    pdf.set_xy(15, 40)
    pdf.set_font("helvetica", "", 9.5)
    pdf.multi_cell(180, 5, form["intro"].format(company_name=company_name),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for label in form["fields"]:
        pdf.set_font("helvetica", "", 9.5)
        pdf.cell(80, 8, label)
        y = pdf.get_y() + 6.5
        pdf.line(pdf.get_x(), y, 195, y)
        pdf.ln(8)
    if "choices" in form:
        question, options = form["choices"]
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 9.5)
        pdf.cell(0, 7, question)
        pdf.ln(8)
        pdf.set_font("helvetica", "", 9.5)
        for option in options:
            pdf.rect(pdf.get_x() + 1, pdf.get_y() + 1.2, 3.6, 3.6)
            pdf.set_x(pdf.get_x() + 7)
            pdf.cell(0, 6, option)
            pdf.ln(6)
    if form.get("lines"):
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 9.5)
        pdf.cell(0, 7, form["lines_title"])
        pdf.ln(8)
        for _ in range(form["lines"]):
            y = pdf.get_y() + 6
            pdf.line(15, y, 195, y)
            pdf.ln(7)
    pdf.ln(6)
    pdf.set_font("helvetica", "", 8.5)
    pdf.multi_cell(180, 4.5, form["notes"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)
    pdf.set_font("helvetica", "", 9.5)
    pdf.cell(90, 6, "Luogo e data ______________________")
    pdf.cell(90, 6, "Firma ______________________________", align="R")
    return bytes(pdf.output())


_CUSTOMER_FIELDS = ["Codice cliente", "Nome e cognome o ragione sociale",
                    "Codice fiscale / Partita IVA", "Punto di fornitura (PDR / POD)",
                    "Indirizzo di fornitura", "Telefono", "E-mail"]
_PRIVACY = ("I dati personali sono trattati ai sensi del Regolamento (UE) 2016/679 al solo fine "
            "di gestire la richiesta. Il modulo compilato può essere consegnato agli sportelli, "
            "inviato a assistenza@example.it o allegato a un ticket dell'Area Clienti.")
_FORMS = (
    {
        "title": "Modulo di reclamo",
        "intro": "Con questo modulo può presentare un reclamo scritto o una richiesta di "
                 "informazioni. Le risponderemo per iscritto entro 30 giorni solari dal "
                 "ricevimento, come previsto dalla regolazione ARERA.",
        "fields": _CUSTOMER_FIELDS,
        "choices": ("Argomento del reclamo", ["Fatturazione", "Letture e consumi",
                                              "Contratto e offerta", "Qualità del servizio",
                                              "Altro"]),
        "lines_title": "Descrizione",
        "lines": 6,
        "notes": _PRIVACY,
    },
    {
        "title": "Richiesta di rateizzazione",
        "intro": "Il/La sottoscritto/a chiede di pagare a rate le fatture indicate. La "
                 "rateizzazione è concessa per importi superiori a 50 euro; le rate hanno "
                 "cadenza non inferiore a quella di fatturazione.",
        "fields": _CUSTOMER_FIELDS[:5] + ["Fatture da rateizzare (numero e data)",
                                          "Importo complessivo (euro)", "Numero di rate richieste"],
        "notes": "Sulle rate successive alla prima sono applicati gli interessi al tasso "
                 "ufficiale di riferimento. " + _PRIVACY,
    },
    {
        "title": "Domiciliazione bancaria SEPA",
        "intro": "Mandato per addebito diretto SEPA Core. Con la sottoscrizione del mandato "
                 "il debitore autorizza {company_name} (codice identificativo del creditore "
                 f"IT45ZZZ0000{COMPANY_VAT}) a disporre sul suo conto gli addebiti delle "
                 "fatture e la banca a eseguirli.",
        "fields": ["Codice cliente", "Intestatario del conto", "Codice fiscale / Partita IVA",
                   "IBAN", "Banca e filiale", "Firmatario, se non intestatario"],
        "choices": ("Tipo di pagamento", ["Ricorrente", "Singolo"]),
        "notes": "Il debitore ha diritto di essere rimborsato dalla propria banca secondo "
                 "gli accordi e alle condizioni che regolano il rapporto con quest'ultima. "
                 "Il rimborso deve essere richiesto entro 8 settimane dalla data di addebito. "
                 + _PRIVACY,
    },
    {
        "title": "Voltura contratto",
        "intro": "Richiesta di intestare il contratto di fornitura a un nuovo cliente senza "
                 "interruzione del servizio. Allegare un documento di identità del nuovo "
                 "intestatario.",
        "fields": ["Codice cliente uscente", "Cliente uscente", "Nuovo intestatario",
                   "C.F. / P.IVA nuovo intestatario",
                   "Punto di fornitura (PDR / POD)", "Indirizzo di fornitura",
                   "Lettura del contatore alla data della voltura", "Recapito per le fatture"],
        "choices": ("Motivo della voltura", ["Cambio di residenza", "Successione",
                                             "Subentro in locazione", "Altro"]),
        "notes": _PRIVACY,
    },
    {
        "title": "Autocertificazione uso domestico",
        "intro": "Dichiarazione sostitutiva di atto di notorietà (artt. 46 e 47 del D.P.R. "
                 "445/2000). Il/La sottoscritto/a, consapevole delle sanzioni penali previste "
                 "in caso di dichiarazioni mendaci, dichiara che la fornitura sotto indicata "
                 "è destinata a uso domestico.",
        "fields": ["Nome e cognome", "Codice fiscale", "Luogo e data di nascita",
                   "Punto di fornitura (PDR / POD)", "Indirizzo di fornitura"],
        "choices": ("La fornitura serve", ["l'abitazione di residenza anagrafica",
                                           "un'abitazione diversa da quella di residenza"]),
        "notes": "La dichiarazione determina l'applicazione dell'IVA e delle accise previste "
                 "per gli usi domestici. " + _PRIVACY,
    },
)


# ---------------------------------------------------------------------------
# Documents, self-readings, reading windows
# ---------------------------------------------------------------------------


def _plan_documents(customer, invoices_by_customer, today, rng):
    """1-3 letters: the contract, often a price change notice, a payment plan for
    customers who pay late."""
    first_point = min(customer.points, key=lambda point: point.contract_start)
    signed = first_point.contract_start - datetime.timedelta(days=rng.randint(15, 40))
    commodities = " e ".join(sorted({"gas naturale" if point.is_gas else "energia elettrica"
                                     for point in customer.points}))
    point_list = ", ".join(f"{point.code} ({'PDR' if point.is_gas else 'POD'} {point.pdr_pod})"
                           for point in customer.points)
    documents = [_DocumentPlan(
        customer, "Contratto di fornitura", signed,
        f"Contratto di fornitura di {commodities}",
        [f"Gentile Cliente, Le confermiamo l'accettazione della Sua proposta di contratto per la "
         f"fornitura di {commodities} ai punti {point_list}.",
         f"La fornitura decorre dal {_it_date(first_point.contract_start)} alle condizioni "
         f"dell'offerta {first_point.contract_data['contract_offer']} "
         f"({first_point.price_type.lower()}); le Condizioni Generali di Fornitura e la Scheda "
         "di confrontabilità allegate fanno parte integrante del contratto.",
         "Ha diritto di ripensarci entro 14 giorni dalla conclusione del contratto, senza "
         "alcuna penale, comunicandolo per iscritto al Servizio Clienti."])]
    notice = datetime.date(2022, 9, rng.randint(5, 25))
    if (customer.code in FIXED_CUSTOMERS or rng.random() < 0.5) and \
            first_point.contract_start < notice <= today:
        documents.append(_DocumentPlan(
            customer, "Comunicazione variazione prezzi", notice,
            "Comunicazione di variazione delle condizioni economiche",
            ["Gentile Cliente, a causa dell'eccezionale aumento dei prezzi all'ingrosso di gas "
             "ed energia elettrica, Le comunichiamo che dal 01/01/2023 i corrispettivi di "
             "vendita della Sua offerta saranno aggiornati come indicato nella tabella.",
             "La presente comunicazione Le viene inviata con un preavviso non inferiore a tre "
             "mesi. Entro la data di decorrenza può recedere dal contratto senza oneri.",
             "Per ogni chiarimento il Servizio Clienti è a Sua disposizione."],
            (["Voce", "Fino al 31/12/2022", "Dal 01/01/2023"],
             [["Gas naturale (euro/Smc)", "0,3850", "0,6420"],
              ["Energia elettrica (euro/kWh)", "0,0910", "0,1740"]])))
    unpaid = [invoice for invoice in invoices_by_customer.get(customer.code, [])
              if not invoice.paid]
    if customer.late_payer and unpaid:
        issued = max(invoice.date for invoice in unpaid)
        total = sum((invoice.total for invoice in unpaid), Decimal("0.00"))
        count = rng.randint(3, 6)
        share = _money(total / count)
        due = [_add_months(issued, months) for months in range(1, count + 1)]
        documents.append(_DocumentPlan(
            customer, "Piano di rateizzazione", min(issued + datetime.timedelta(days=2), today),
            "Accettazione della richiesta di rateizzazione",
            [f"Gentile Cliente, accogliamo la Sua richiesta di rateizzare l'importo di "
             f"{_it_number(total, 2)} € relativo alle fatture "
             f"{', '.join(invoice.number for invoice in unpaid)}, in {count} rate mensili.",
             "Il mancato pagamento di una rata fa decadere il piano: l'importo residuo "
             "diventa esigibile in un'unica soluzione."],
            (["Rata", "Scadenza", "Importo"],
             [[str(index + 1), _it_date(day),
               f"{_it_number(total - share * (count - 1) if index == count - 1 else share, 2)} €"]
              for index, day in enumerate(due)])))
    return documents


def _plan_self_readings(point, today, rng):
    """Monthly-ish readings over the last two years from the meter's real position;
    the newest ones of the guide's point and of the company's corrector point are
    still to be acquired."""
    scripted = point.customer.code in FIXED_CUSTOMERS
    cadence = 1.0 if scripted else rng.uniform(0.3, 0.8)
    first = max(_add_months(today, -24), point.first_billed_month)
    candidates = (month.replace(day=rng.randint(20, 28)) for month in _months(first, today))
    dates = [day for day in candidates if first <= day < today and rng.random() < cadence]
    # Still "Da acquisire", but never today: the demo user adds today's reading.
    if point.code == GUIDE_SUPPLY_POINT:
        pending = [today - datetime.timedelta(days=rng.randint(8, 12)),
                   today - datetime.timedelta(days=rng.randint(1, 3))]
    elif scripted and point.has_corrector:
        pending = [today - datetime.timedelta(days=rng.randint(1, 3))]
    else:
        pending = []
    if pending:
        dates = [day for day in dates if day < pending[0] - datetime.timedelta(days=10)]
    rows = []
    for day in dates + pending:
        consumed = _consumed_until(point, day)
        submitted = _utc(day, rng.randint(7, 21), rng.randint(0, 59))
        acquired = day not in pending
        corrector = int(point.corrector_base + consumed) if point.has_corrector else None
        acquired_at = None
        if acquired:
            acquired_at = submitted + datetime.timedelta(minutes=rng.randint(3, 32))
        rows.append({
            "supply_point": point.id,
            "reading_date": day,
            "meter_reading": int(point.meter_base + consumed / point.volume_factor),
            "corrector_reading": corrector,
            "status": SelfReading.ACQUIRED if acquired else SelfReading.PENDING,
            "submitted_at": submitted,
            "acquired_at": acquired_at,
            "outcome": "validata" if acquired and rng.random() < 0.25 else None,
            "outcome_reason": "",
        })
    acquired_rows = [row for row in rows if row["status"] == SelfReading.ACQUIRED]
    if len(acquired_rows) >= 3 and (point.code == GUIDE_SUPPLY_POINT or rng.random() < 0.25):
        # A typo the billing system rejected: lower than the reading before it.
        index = rng.randrange(1, len(acquired_rows) - 1)
        rejected = acquired_rows[index]
        previous = acquired_rows[index - 1]["meter_reading"]
        rejected["meter_reading"] = max(0, previous - rng.randint(15, 250))
        rejected["outcome"] = "scartata"
        rejected["outcome_reason"] = "Lettura inferiore alla precedente"
        if point.code == GUIDE_SUPPLY_POINT:
            acquired_rows[-1]["outcome"] = "validata"
    return rows


def _reading_windows(today):
    """The customer guide's always-open window and the last three monthly ones."""
    windows = [{"supply_point": None,
                "start_at": datetime.datetime(2010, 2, 11, 8, 0),
                "end_at": datetime.datetime(2099, 2, 14, 22, 0)}]
    for months_back in (3, 2, 1):
        month = _add_months(today.replace(day=1), -months_back)
        last_day = calendar.monthrange(month.year, month.month)[1]
        windows.append({"supply_point": None,
                        "start_at": datetime.datetime(month.year, month.month, 25, 8, 0),
                        "end_at": datetime.datetime(month.year, month.month, last_day, 22, 0)})
    return windows


# ---------------------------------------------------------------------------
# Database writes
# ---------------------------------------------------------------------------


def _insert(model, rows, fields=None):
    """Bulk insert in batches that stay under SQLite's parameter limit."""
    columns = len(fields) if fields else len(rows[0]) if rows else 1
    size = max(1, min(_BATCH_ROWS, _MAX_PARAMETERS // columns))
    for first in range(0, len(rows), size):
        model.insert_many(rows[first:first + size], fields=fields).execute()
    return len(rows)


def _write(files_dir, relative_path, content):
    path = files_dir / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _customer_row(customer):
    registered = customer.registered_at is not None
    return {
        "code": customer.code,
        "name": customer.name,
        "tax_code": customer.tax_code,
        "is_company": customer.is_company,
        "address": customer.address,
        "phone": customer.phone,
        "fax": customer.fax,
        "email": customer.email,
        # Salted: every registered customer gets a hash of its own.
        "password_hash": passwords.hash_password(DEMO_PASSWORD) if registered else None,
        "registered_at": customer.registered_at,
        "previous_login_at": customer.previous_login_at,
        "last_login_at": customer.last_login_at,
    }


def _point_row(point):
    return {
        "code": point.code,
        "customer": point.customer.id,
        "commodity": point.commodity,
        "pdr_pod": point.pdr_pod,
        "address": point.address,
        "meter_serial": point.meter_serial,
        "has_corrector": point.has_corrector,
        # Electricity meters keep the model's default.
        "meter_digits": point.meter_digits or SupplyPoint.meter_digits.default,
        "expected_annual_consumption": float(point.expected_annual),
        "technical_data": point.technical_data,
        "contract_data": point.contract_data,
    }


def _identity_line(customer):
    """How to use a fixed customer in the demo, for the log."""
    kind = "partita IVA" if customer.is_company else "codice fiscale"
    access = (f"password {DEMO_PASSWORD}" if customer.registered_at
              else "not registered (try the registration)")
    points = ", ".join(point.code for point in customer.points)
    return (f"customer {customer.code} {customer.name}, {kind} {customer.tax_code}: {access}; "
            f"supply points {points}")


def _insert_customers(planned):
    """Customers and supply points; the plans get their database ids."""
    _insert(Customer, [_customer_row(customer) for customer in planned])
    customer_ids = dict(Customer.select(Customer.code, Customer.id).tuples())
    points = [point for customer in planned for point in customer.points]
    for customer in planned:
        customer.id = customer_ids[customer.code]
    _insert(SupplyPoint, [_point_row(point) for point in points])
    point_ids = dict(SupplyPoint.select(SupplyPoint.code, SupplyPoint.id).tuples())
    for point in points:
        point.id = point_ids[point.code]
    return len(planned), len(points)


def _insert_measurements(planned, today, rng, insert):
    """The last two years of the measured points; computed even when not inserted,
    because the billing of those points derives from them."""
    count = 0
    for point in _measured_points(planned, rng):
        rows = _measurement_series(point, _add_months(today, -24), today, rng)
        if insert:
            count += _insert(Measurement, rows,
                             [Measurement.supply_point, Measurement.timestamp,
                              Measurement.active_energy_kwh, Measurement.power_kw])
    return count


def _insert_invoices(points, today, rng, files_dir, company_name, pdfs):
    """Invoices with their PDFs and billed consumption; returns the invoice plans and
    the number of PDFs written."""
    invoices = [invoice for point in points for invoice in _plan_invoices(point, today, rng)]
    _number_invoices(invoices)
    invoice_rows, consumption_rows = [], []
    pdf_count = 0
    for invoice in invoices:
        point = invoice.point
        pdf_path = None
        if pdfs and invoice.with_pdf:
            pdf_path = f"invoices/{invoice.date.year}/{invoice.number}.pdf"
            _write(files_dir, pdf_path, _invoice_pdf(invoice, company_name))
            pdf_count += 1
        invoice_rows.append((invoice.number, point.id, invoice.date, invoice.period_start,
                             invoice.period_end, invoice.total, invoice.due_date, invoice.paid,
                             pdf_path))
        f1, f2, f3 = invoice.bands or (None, None, None)
        consumption_rows.append((point.id, invoice.period_start, invoice.period_end, f1, f2, f3,
                                 float(invoice.energy), invoice.max_power,
                                 "Smc" if point.is_gas else "kWh"))
    _insert(Invoice, invoice_rows, [
        Invoice.number, Invoice.supply_point, Invoice.date, Invoice.period_start,
        Invoice.period_end, Invoice.amount, Invoice.due_date, Invoice.paid, Invoice.pdf_path])
    _insert(BilledConsumption, consumption_rows, [
        BilledConsumption.supply_point, BilledConsumption.period_start,
        BilledConsumption.period_end, BilledConsumption.energy_f1, BilledConsumption.energy_f2,
        BilledConsumption.energy_f3, BilledConsumption.energy_total, BilledConsumption.max_power,
        BilledConsumption.unit])
    return invoices, pdf_count


def _insert_documents(planned, invoices, today, rng, files_dir, company_name):
    invoices_by_customer = {}
    for invoice in invoices:
        invoices_by_customer.setdefault(invoice.point.customer.code, []).append(invoice)
    rows = []
    for customer in planned:
        for document in _plan_documents(customer, invoices_by_customer, today, rng):
            _write(files_dir, document.file_path, _document_pdf(document, company_name))
            rows.append({"customer": customer.id, "title": document.title,
                         "date": document.date, "file_path": document.file_path})
    return _insert(Document, rows)


def _insert_forms(today, files_dir, company_name):
    rows = []
    for age, form in enumerate(_FORMS):
        day = today - datetime.timedelta(days=90 + 137 * age)
        file_path = f"forms/{_slug(form['title'])}.pdf"
        _write(files_dir, file_path, _form_pdf(form, day, company_name))
        rows.append({"title": form["title"], "date": day, "file_path": file_path})
    return _insert(Form, rows)


def _insert_self_readings(planned, today, rng):
    """Readings for the fixed customers' gas points and half of the others."""
    rows = []
    for customer in planned:
        for point in customer.points:
            if point.is_gas and (customer.code in FIXED_CUSTOMERS or rng.random() < 0.5):
                rows.extend(_plan_self_readings(point, today, rng))
    return _insert(SelfReading, rows)


# ---------------------------------------------------------------------------
# Tickets
# ---------------------------------------------------------------------------

# The company's threads: one answered and closed, one the back-office is working on
# (with an internal note the customer never sees). Each message: (days before today,
# hour, who: "customer", "reply" or "note", text).
_COMPANY_TICKETS = (
    ("Fatturazione", "Conguaglio gas più alto del previsto", Ticket.CLOSED, 0, (
        (41, 9, "customer", "Buongiorno, la fattura di conguaglio del punto gas è quasi il "
                            "doppio della precedente. Potete verificare le letture usate?"),
        (40, 15, "reply", "Buongiorno, la fattura comprende il conguaglio di quattro mesi "
                          "stimati: l'ultima lettura rilevata dal distributore era più alta "
                          "della stima. Per evitare conguagli può inserire l'autolettura "
                          "nei periodi indicati nella pagina Autolettura Contatore."),
        (39, 10, "customer", "Chiaro, grazie. Inserirò l'autolettura ogni mese."),
    )),
    ("Letture", "Lettura del correttore", Ticket.IN_PROGRESS, 0, (
        (3, 11, "customer", "Il display del correttore mostra due valori: quale dei due va "
                            "inserito nell'autolettura?"),
        (2, 9, "note", "Chiedere al distributore il modello del correttore installato."),
        (2, 16, "reply", "Buongiorno, stiamo verificando con il distributore il modello del "
                         "correttore installato: le risponderemo entro due giorni lavorativi."),
    )),
)
_OTHER_SUBJECTS = (
    ("Fatturazione", "Richiesta duplicato fattura",
     "Non trovo la fattura di gennaio tra i documenti: potete inviarmene una copia?"),
    ("Contratto", "Cambio intestatario",
     "Devo volturare la fornitura a mia figlia: quali documenti servono?"),
    ("Letture", "Autolettura non accettata",
     "Ho inserito la lettura ma risulta scartata: il contatore segna proprio quel valore."),
    ("Guasto / tecnico", "Contatore con display spento",
     "Da ieri il display del contatore è spento. Devo chiamare il distributore?"),
    ("Altro", "Modalità di pagamento",
     "Vorrei passare dal bollettino all'addebito diretto sul conto corrente."),
    ("Fatturazione", "Rateizzazione",
     "È possibile pagare l'ultima fattura in tre rate?"),
)


def _ticket_rows(ticket, messages, today, customer_id, point_id):
    """The Ticket row and its TicketMessage rows; times are UTC, the thread's last
    message is the ticket's last activity."""
    def at(days, hour):
        return _utc(today - datetime.timedelta(days=days), hour)

    created, updated = at(*messages[0][:2]), at(*messages[-1][:2])
    category, subject, status = ticket
    row = {"customer": customer_id, "supply_point": point_id, "category": category,
           "subject": subject, "status": status, "created_at": created, "updated_at": updated}
    message_rows = [{"from_customer": who == "customer", "internal": who == "note",
                     "operator": None, "body": text, "created_at": at(days, hour)}
                    for days, hour, who, text in messages]
    return row, message_rows


def _insert_tickets(planned, today, rng):
    """The company's two threads, and one open request from each of a few other
    registered customers waiting in the back-office queue."""
    company = next(customer for customer in planned if customer.code == COMPANY_CODE)
    gas_points = [point for point in company.points if point.is_gas]
    threads = [_ticket_rows((category, subject, status), messages, today, company.id,
                            gas_points[point_index].id)
               for category, subject, status, point_index, messages in _COMPANY_TICKETS]
    others = [customer for customer in planned
              if customer.code not in FIXED_CUSTOMERS and customer.registered_at is not None]
    for customer, (category, subject, text) in zip(rng.sample(others, min(len(others), 6)),
                                                    _OTHER_SUBJECTS):
        days = rng.randint(1, 6)
        threads.append(_ticket_rows((category, subject, Ticket.OPEN),
                                    ((days, rng.randint(8, 19), "customer", text),),
                                    today, customer.id, rng.choice(customer.points).id))
    message_count = 0
    for ticket_row, message_rows in threads:
        ticket_id = Ticket.insert(ticket_row).execute()
        message_count += _insert(TicketMessage, [dict(row, ticket=ticket_id)
                                                 for row in message_rows])
    return len(threads), message_count


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def generate(files_dir, *, seed=DEFAULT_SEED, today=None, customers=50,
             company_name=COMPANY_NAME, pdfs=True, measurements=True, log=print):
    """Fill the bound, empty database with demo data and write its files under
    files_dir (invoices/, documents/, forms/). Returns the row count of every model
    filled, by model name; the log ends with how to use the two fixed customers.

    `pdfs=False` skips the invoice PDFs (pdf_path stays None) and
    `measurements=False` skips inserting the measurements; all other data stays the
    same as with them, so quick runs can check reproducibility."""
    started = time.perf_counter()
    files_dir = Path(files_dir)
    today = today or models.rome_now().date()
    if customers < 2:
        raise ValueError("customers must be at least 2: the two fixed demo customers.")
    master = random.Random(seed)
    # One stream per step: skipping PDFs or measurements cannot shift the others.
    rng = {step: random.Random(master.getrandbits(64))
           for step in ("customers", "consumption", "measurements", "billing", "documents",
                        "readings", "tickets")}

    def progress(message):
        log(f"[{time.perf_counter() - started:5.1f} s] {message}")

    counts = {}
    # One transaction: a failure leaves the database empty, ready for another try.
    with models.db.atomic():
        existing = Customer.select().count()
        if existing:
            raise RuntimeError(f"The database already has {existing} customers: demo data "
                               "is only loaded into an empty database.")
        planned = _plan_customers(rng["customers"], customers, today)
        points = [point for customer in planned for point in customer.points]
        _plan_consumption(points, today, rng["consumption"])
        counts["Customer"], counts["SupplyPoint"] = _insert_customers(planned)
        progress(f"{counts['Customer']} customers, {counts['SupplyPoint']} supply points")
        counts["Measurement"] = _insert_measurements(planned, today, rng["measurements"],
                                                     measurements)
        progress(f"{counts['Measurement']} measurements")
        invoices, pdf_count = _insert_invoices(points, today, rng["billing"], files_dir,
                                               company_name, pdfs)
        counts["Invoice"] = counts["BilledConsumption"] = len(invoices)
        progress(f"{len(invoices)} invoices ({pdf_count} PDF) and billed consumption rows")
        counts["Document"] = _insert_documents(planned, invoices, today, rng["documents"],
                                               files_dir, company_name)
        counts["Form"] = _insert_forms(today, files_dir, company_name)
        progress(f"{counts['Document']} documents, {counts['Form']} forms")
        counts["ReadingWindow"] = _insert(ReadingWindow, _reading_windows(today))
        counts["SelfReading"] = _insert_self_readings(planned, today, rng["readings"])
        progress(f"{counts['ReadingWindow']} reading windows, "
                 f"{counts['SelfReading']} self-readings")
        counts["Ticket"], counts["TicketMessage"] = _insert_tickets(planned, today,
                                                                    rng["tickets"])
        progress(f"{counts['Ticket']} tickets")

    files_bytes = sum(path.stat().st_size for path in files_dir.rglob("*") if path.is_file())
    progress(f"done: {files_bytes / 1e6:.1f} MB of files in {files_dir}")
    for customer in planned[:len(FIXED_CUSTOMERS)]:
        log(_identity_line(customer))
    return counts
