"""Dati Tecnici and Dati Contrattuali of the selected supply point: the billing
system's `tech_*` and `contract_*` values with Italian labels and formatting."""
import datetime
import re

from flask import Blueprint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.formatting import local_date, local_number, page_language
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("supply", __name__)

# Known keys, in the order the pages show them: (label, unit of a numeric value).
# Keys the billing system adds later still show, with a label made from the key.
LABELS = {
    "tech_meter_class": (_l("Classe del contatore"), None),
    "tech_meter_type": (_l("Tipo di contatore"), None),
    "tech_meter_brand": (_l("Marca del contatore"), None),
    "tech_meter_year": (_l("Anno di fabbricazione del contatore"), None),
    "tech_pressure": (_l("Pressione di fornitura"), None),
    "tech_pressure_mbar": (_l("Pressione di fornitura"), "mbar"),
    "tech_max_flow_m3h": (_l("Portata massima"), "m³/h"),
    "tech_use_category": (_l("Categoria d'uso"), None),
    "tech_corrector": (_l("Correttore"), None),
    "tech_coefficient_c": (_l("Coefficiente C"), None),
    "tech_remi": (_l("Codice REMI"), None),
    "tech_pcs": (_l("Potere calorifico superiore"), None),
    "tech_voltage": (_l("Tensione di alimentazione"), "V"),
    "tech_voltage_level": (_l("Livello di tensione"), None),
    "tech_phase": (_l("Fasi"), None),
    "tech_phases": (_l("Numero di fasi"), None),
    "tech_contracted_power_kw": (_l("Potenza impegnata"), "kW"),
    "tech_available_power_kw": (_l("Potenza disponibile"), "kW"),
    "tech_time_bands": (_l("Fasce orarie"), None),
    "tech_load_profile": (_l("Profilo di prelievo"), None),
    "tech_distributor": (_l("Distributore locale"), None),
    "contract_code": (_l("Codice contratto"), None),
    "contract_number": (_l("Numero contratto"), None),
    "contract_offer": (_l("Offerta"), None),
    "contract_market": (_l("Mercato"), None),
    "contract_use": (_l("Uso"), None),
    "contract_start": (_l("Data inizio fornitura"), None),
    "contract_end": (_l("Data fine fornitura"), None),
    "contract_signed": (_l("Data di sottoscrizione"), None),
    "contract_duration_months": (_l("Durata"), _l("mesi")),
    "contract_price_type": (_l("Tipo di prezzo"), None),
    "contract_billing_frequency": (_l("Frequenza di fatturazione"), None),
    "contract_payment_method": (_l("Modalità di pagamento"), None),
    "contract_invoice_delivery": (_l("Invio della fattura"), None),
}

# Unit suffixes of keys not in LABELS (`tech_line_length_m` -> "Line length", "m").
UNIT_SUFFIXES = {"kw": "kW", "kwh": "kWh", "smc": "Smc", "mc": "m³", "m3": "m³",
                 "m3h": "m³/h", "v": "V", "kv": "kV", "a": "A", "mbar": "mbar",
                 "bar": "bar", "m": "m", "months": _l("mesi"), "days": _l("giorni")}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMAL = re.compile(r"^-?\d+[.,]\d+$")
_ITALIAN_NUMBER = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_INTEGER = re.compile(r"^-?\d+$")


def label_for(key):
    """(label, unit) of a key: from LABELS, else made readable from the key itself."""
    if key in LABELS:
        return LABELS[key]
    words = re.sub(r"^(tech|contract)_", "", key).split("_")
    unit = None
    if len(words) > 1 and words[-1].lower() in UNIT_SUFFIXES:
        unit = UNIT_SUFFIXES[words.pop().lower()]
    text = " ".join(word for word in words if word) or key
    return text[:1].upper() + text[1:], unit


def display_value(value, unit=None):
    """The value as text in the page's language (Italian: dd/mm/yyyy, decimal comma,
    Sì/No), "—" for nothing. The unit follows numbers only ("BT" never becomes "BT V")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "—"
    if isinstance(value, bool):
        return _("Sì") if value else "No"
    numeric = None
    if isinstance(value, int):
        numeric = local_number(value)
    elif isinstance(value, float):
        numeric = local_number(value, _decimals(value))
    else:
        text = str(value).strip()
        if _ISO_DATE.match(text):
            try:
                return local_date(datetime.date.fromisoformat(text))
            except ValueError:
                return text
        if _DECIMAL.match(text):
            # No thousands separators in the billing files: the dot is a decimal point.
            numeric = text.replace(".", ",") if page_language() == "it" else text
        elif _ITALIAN_NUMBER.match(text):
            numeric = text
        elif _INTEGER.match(text):
            # Kept as written: "00123" or a code must not turn into "123" or "1.234".
            numeric = text
        else:
            return text
    return f"{numeric} {unit}" if unit else numeric


def _decimals(value):
    return len(f"{value:.3f}".rstrip("0").partition(".")[2])


def detail_rows(values):
    """[(label, value text), ...]: known keys in LABELS order, then the others by key."""
    known = [key for key in LABELS if key in values]
    others = sorted(key for key in values if key not in LABELS)
    rows = []
    for key in known + others:
        label, unit = label_for(key)
        rows.append((label, display_value(values[key], unit)))
    return rows


def _current(supply_point):
    """The point is the customer's today: its data are theirs. Once it passed on, the
    data on file describe the new holder's supply."""
    return supply_point is not None and not supply_point.is_ceased


@bp.get("/dati-tecnici")
@customer_required
def technical():
    """Dati Tecnici of the selected supply point, read-only."""
    supply_point = selected_supply_point()
    rows = detail_rows(supply_point.technical_data) if _current(supply_point) else []
    return render_page("supply/technical.html", supply_point=supply_point, rows=rows)


@bp.get("/dati-contrattuali")
@customer_required
def contract():
    """Dati Contrattuali of the selected supply point, read-only."""
    supply_point = selected_supply_point()
    rows = detail_rows(supply_point.contract_data) if _current(supply_point) else []
    return render_page("supply/contract.html", supply_point=supply_point, rows=rows,
                       customer=current_user)
