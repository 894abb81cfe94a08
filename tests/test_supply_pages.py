"""Dati Tecnici and Dati Contrattuali: read-only, with Italian labels and formats."""
import re

import pytest

import models
from views.supply import detail_rows, display_value, label_for


def summary_pairs(html):
    """{label: value} of the page's <dl class="summary"> rows."""
    return dict(re.findall(r"<div><dt>([^<]+)</dt><dd>([^<]*)</dd></div>", html))


def point_of(customer, commodity):
    return (customer.supply_points_in_order()
            .where(models.SupplyPoint.commodity == commodity).get())


def test_technical_data_of_a_gas_point(client, logged_in):
    point = point_of(logged_in, "gas")
    point.meter_digits = 6
    point.technical_data = {"tech_meter_class": "G4", "tech_pressure": "Bassa pressione",
                            "tech_remi": "34500123", "tech_max_flow_m3h": "6.5",
                            "tech_meter_location": "Nel vano scala"}
    point.save()

    page = client.get("/dati-tecnici")

    assert page.status_code == 200
    pairs = summary_pairs(page.text)
    assert pairs["Punto di fornitura"] == point.code
    assert pairs["PDR"] == point.pdr_pod
    assert pairs["Tipo di fornitura"] == "Gas naturale"
    assert pairs["Indirizzo di fornitura"] == "VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)"
    assert pairs["Matricola contatore"] == point.meter_serial
    assert pairs["Cifre del contatore"] == "6"
    assert pairs["Correttore di volume"] == "Sì"
    assert pairs["Consumo annuo previsto"] == "1.200 Smc"
    assert pairs["Classe del contatore"] == "G4"
    assert pairs["Pressione di fornitura"] == "Bassa pressione"
    assert pairs["Codice REMI"] == "34500123"
    assert pairs["Portata massima"] == "6,5 m³/h"
    assert pairs["Meter location"] == "Nel vano scala"
    labels = list(pairs)
    # Known keys in the table's order, unknown ones after them.
    assert labels.index("Classe del contatore") < labels.index("Pressione di fornitura") \
        < labels.index("Meter location")
    assert "Dati in sola consultazione" in page.text


def test_technical_data_of_an_electricity_point(client, logged_in):
    point = point_of(logged_in, "electricity")
    point.technical_data = {"tech_voltage": "230", "tech_contracted_power_kw": "4.5",
                            "tech_available_power_kw": 3.3}
    point.save()

    page = client.get(f"/dati-tecnici?punto={point.code}")

    pairs = summary_pairs(page.text)
    assert pairs["POD"] == point.pdr_pod
    assert pairs["Tipo di fornitura"] == "Energia elettrica"
    assert pairs["Tensione di alimentazione"] == "230 V"
    assert pairs["Potenza impegnata"] == "4,5 kW"
    assert pairs["Potenza disponibile"] == "3,3 kW"
    assert pairs["Consumo annuo previsto"] == "2.700 kWh"
    assert "Correttore di volume" not in pairs and "PDR" not in pairs


def test_contract_data(client, logged_in):
    point = point_of(logged_in, "gas")
    point.contract_data = {"contract_offer": "Gas Casa Fisso 24", "contract_start": "2015-03-01",
                           "contract_price_type": "Fisso",
                           "contract_billing_frequency": "Bimestrale",
                           "contract_payment_method": "Domiciliazione bancaria (SDD)",
                           "contract_use": "Domestico residente", "contract_green_gas": True}
    point.save()

    page = client.get("/dati-contrattuali")

    assert page.status_code == 200
    pairs = summary_pairs(page.text)
    assert pairs["Intestatario"] == "ACQUE CHIARE S.R.L."
    assert pairs["Codice cliente"] == "654321"
    assert pairs["PDR"] == point.pdr_pod
    assert pairs["Offerta"] == "Gas Casa Fisso 24"
    assert pairs["Data inizio fornitura"] == "01/03/2015"
    assert pairs["Tipo di prezzo"] == "Fisso"
    assert pairs["Frequenza di fatturazione"] == "Bimestrale"
    assert pairs["Modalità di pagamento"] == "Domiciliazione bancaria (SDD)"
    assert pairs["Uso"] == "Domestico residente"
    assert pairs["Green gas"] == "Sì"
    assert "2015-03-01" not in page.text


def test_contract_page_without_contract_values(client, logged_in):
    page = client.get("/dati-contrattuali")
    assert "Gli altri dati del contratto non sono ancora disponibili." in page.text


def test_pages_follow_the_selected_point(client, logged_in):
    gas, electricity = point_of(logged_in, "gas"), point_of(logged_in, "electricity")
    electricity.contract_data = {"contract_offer": "Luce Impresa"}
    electricity.save()

    assert "Luce Impresa" not in client.get("/dati-contrattuali").text
    fragment = client.get(f"/dati-contrattuali?punto={electricity.code}",
                          headers={"HX-Request": "true", "HX-Target": "content"})
    assert "Luce Impresa" in fragment.text and "<html" not in fragment.text
    assert electricity.code in client.get("/dati-tecnici").text
    assert gas.code in client.get(f"/dati-tecnici?punto={gas.code}").text


@pytest.mark.parametrize("url", ["/dati-tecnici", "/dati-contrattuali"])
def test_pages_are_read_only(client, logged_in, url):
    assert client.post(url, data={"tech_meter_class": "G6"}).status_code == 405
    assert client.get(url).text.count("<form") == 3  # logout, supply-point picker, language


@pytest.mark.parametrize("key, expected", [
    ("tech_contracted_power_kw", ("Potenza impegnata", "kW")),
    ("contract_payment_method", ("Modalità di pagamento", None)),
    ("tech_meter_location", ("Meter location", None)),
    ("tech_line_length_m", ("Line length", "m")),
    ("contract_notice_days", ("Notice", "giorni")),
    ("contract_", ("Contract_", None)),
    ("tech_kw", ("Kw", None)),
])
def test_labels(key, expected):
    assert label_for(key) == expected


@pytest.mark.parametrize("value, unit, expected", [
    (None, None, "—"),
    ("  ", "kW", "—"),
    (True, None, "Sì"),
    (False, None, "No"),
    (1500, "kWh", "1.500 kWh"),
    (3.0, "kW", "3 kW"),
    (4.75, None, "4,75"),
    ("3.5", "kW", "3,5 kW"),
    ("3,5", "kW", "3,5 kW"),
    ("1.234,50", "kWh", "1.234,50 kWh"),
    ("00123", None, "00123"),
    ("123456", None, "123456"),
    ("BT 230 V", "V", "BT 230 V"),
    ("2015-03-01", None, "01/03/2015"),
    ("2015-02-30", None, "2015-02-30"),
    ("01/03/2015", None, "01/03/2015"),
])
def test_values_in_italian(value, unit, expected):
    assert display_value(value, unit) == expected


def test_rows_known_first_then_unknown_by_key():
    rows = detail_rows({"tech_zeta": "z", "tech_alpha": "a", "tech_pressure": "Bassa",
                        "tech_meter_class": "G4"})
    assert [label for label, _ in rows] == ["Classe del contatore", "Pressione di fornitura",
                                            "Alpha", "Zeta"]
