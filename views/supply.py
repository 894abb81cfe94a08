"""Dati Tecnici and Dati Contrattuali of the selected supply point: the billing
system's `tech_*` and `contract_*` values with Italian labels and formatting."""
import datetime
import re

from flask import Blueprint
from flask_login import current_user

from portal.formatting import date_it, number_it
from views import customer_required, render_page, selected_supply_point

bp = Blueprint("supply", __name__)

# Known keys, in the order the pages show them: (label, unit of a numeric value).
# Keys the billing system adds later still show, with a label made from the key.
LABELS = {
    "tech_meter_class": ("Classe del contatore", None),
    "tech_meter_type": ("Tipo di contatore", None),
    "tech_meter_brand": ("Marca del contatore", None),
    "tech_meter_year": ("Anno di fabbricazione del contatore", None),
    "tech_pressure": ("Pressione di fornitura", None),
    "tech_pressure_mbar": ("Pressione di fornitura", "mbar"),
    "tech_max_flow_m3h": ("Portata massima", "m³/h"),
    "tech_use_category": ("Categoria d'uso", None),
    "tech_corrector": ("Correttore", None),
    "tech_coefficient_c": ("Coefficiente C", None),
    "tech_remi": ("Codice REMI", None),
    "tech_pcs": ("Potere calorifico superiore", None),
    "tech_voltage": ("Tensione di alimentazione", "V"),
    "tech_voltage_level": ("Livello di tensione", None),
    "tech_phase": ("Fasi", None),
    "tech_phases": ("Numero di fasi", None),
    "tech_contracted_power_kw": ("Potenza impegnata", "kW"),
    "tech_available_power_kw": ("Potenza disponibile", "kW"),
    "tech_time_bands": ("Fasce orarie", None),
    "tech_load_profile": ("Profilo di prelievo", None),
    "tech_distributor": ("Distributore locale", None),
    "contract_code": ("Codice contratto", None),
    "contract_number": ("Numero contratto", None),
    "contract_offer": ("Offerta", None),
    "contract_market": ("Mercato", None),
    "contract_use": ("Uso", None),
    "contract_start": ("Data inizio fornitura", None),
    "contract_end": ("Data fine fornitura", None),
    "contract_signed": ("Data di sottoscrizione", None),
    "contract_duration_months": ("Durata", "mesi"),
    "contract_price_type": ("Tipo di prezzo", None),
    "contract_billing_frequency": ("Frequenza di fatturazione", None),
    "contract_payment_method": ("Modalità di pagamento", None),
    "contract_invoice_delivery": ("Invio della fattura", None),
}

# Unit suffixes of keys not in LABELS (`tech_line_length_m` -> "Line length", "m").
UNIT_SUFFIXES = {"kw": "kW", "kwh": "kWh", "smc": "Smc", "mc": "m³", "m3": "m³",
                 "m3h": "m³/h", "v": "V", "kv": "kV", "a": "A", "mbar": "mbar",
                 "bar": "bar", "m": "m", "months": "mesi", "days": "giorni"}

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
    """The value as Italian text: dates dd/mm/yyyy, decimal comma, Sì/No, "—" for
    nothing. The unit follows numbers only ("BT" never becomes "BT V")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "—"
    if isinstance(value, bool):
        return "Sì" if value else "No"
    numeric = None
    if isinstance(value, int):
        numeric = number_it(value)
    elif isinstance(value, float):
        numeric = number_it(value, _decimals(value))
    else:
        text = str(value).strip()
        if _ISO_DATE.match(text):
            try:
                return date_it(datetime.date.fromisoformat(text))
            except ValueError:
                return text
        if _DECIMAL.match(text):
            # No thousands separators in the billing files: the dot is a decimal point.
            numeric = text.replace(".", ",")
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
