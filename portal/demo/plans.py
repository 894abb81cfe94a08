"""What the demo sells and plans: offers, tariffs, prices and the plans that become rows."""
import datetime
import math
from dataclasses import dataclass, field
from decimal import Decimal

from portal.demo import common, people

# ---------------------------------------------------------------------------
# Offers, tariffs and prices
# ---------------------------------------------------------------------------

_OFFERS = {
    (common.GAS, False, "Prezzo fisso"): "Gas Casa Fisso",
    (common.GAS, False, "Indicizzato"): "Gas Casa Indice PSV",
    (common.GAS, True, "Prezzo fisso"): "Gas Impresa Fisso",
    (common.GAS, True, "Indicizzato"): "Gas Impresa PSV",
    (common.ELECTRICITY, False, "Prezzo fisso"): "Luce Casa Verde",
    (common.ELECTRICITY, False, "Indicizzato"): "Luce Casa Indice PUN",
    (common.ELECTRICITY, True, "Prezzo fisso"): "Luce Impresa Fissa",
    (common.ELECTRICITY, True, "Indicizzato"): "Luce Impresa PUN Trioraria",
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
    (common.GAS, False): _Tariff(6.5, 0.110, 5.2, 0.0, 0.045, 0.190, Decimal("0.10")),
    (common.GAS, True): _Tariff(12.0, 0.080, 14.0, 0.0, 0.035, 0.025, Decimal("0.22")),
    (common.ELECTRICITY, False): _Tariff(6.0, 0.0095, 1.8, 1.85, 0.042, 0.0227, Decimal("0.10")),
    (common.ELECTRICITY, True): _Tariff(11.0, 0.0085, 2.5, 2.00, 0.038, 0.0125, Decimal("0.22")),
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
    comune: people._Comune
    phone: str
    fax: str = ""
    email: str = ""
    payment_method: str = SDD
    late_payer: bool = False
    registered_at: datetime.datetime | None = None
    previous_login_at: datetime.datetime | None = None
    last_login_at: datetime.datetime | None = None
    points: list = field(default_factory=list)
    # Points the customer held once and passed on.
    previous_points: list = field(default_factory=list)
    id: int | None = None

    @property
    def contract_points(self):
        """The points of the customer's contract: held today, else held once."""
        return self.points or self.previous_points


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
    # A point that changed hands: previous_holder held it until holder_since.
    previous_holder: "_CustomerPlan | None" = None
    holder_since: datetime.date | None = None
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
        return self.commodity == common.GAS

    @property
    def first_billed_month(self):
        return max(common.FIRST_BILLING_MONTH, self.contract_start.replace(day=1))

    def holder_on(self, day):
        """The customer who held the point on `day`."""
        if self.previous_holder is not None and day < self.holder_since:
            return self.previous_holder
        return self.customer


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
    def customer(self):
        """The holder the invoice is addressed to: who held the point when its period
        started (periods are split at a change of holder)."""
        return self.point.holder_on(self.period_start)

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
        return (f"documents/{self.customer.code}/{self.date.isoformat()}-"
                f"{common._slug(self.title)}.pdf")
