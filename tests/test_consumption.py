"""Prelievi Fatturati: chart and table of a year, the year selector, the CSV, and who
may see what."""
import datetime
import html
import json
import re

import pytest

from portal import timebands
import models
from portal.formatting import number_it

HTMX = {"HX-Request": "true", "HX-Target": "consumption-data"}


def month_end(start):
    return timebands.next_month(start) - datetime.timedelta(days=1)


def bill(supply_point, year, months=range(1, 13), gas=False, scale=1.0):
    """Monthly billed periods: electricity F1 = 1000 + 10 x month, F2 = 400, F3 = 300,5
    kWh and 3 + month/10 kW; gas 100 x month Smc."""
    for month in months:
        start = datetime.date(year, month, 1)
        if gas:
            values = dict(energy_total=100.0 * month * scale, unit="Smc")
        else:
            f1 = (1000.0 + 10 * month) * scale
            values = dict(energy_f1=f1, energy_f2=400.0, energy_f3=300.5, energy_total=f1 + 700.5,
                          max_power=3.0 + month / 10, unit="kWh")
        models.BilledConsumption.create(supply_point=supply_point, period_start=start,
                                        period_end=month_end(start), **values)


@pytest.fixture
def billed(logged_in):
    gas, electricity = logged_in.supply_points_in_order()
    bill(electricity, 2024, scale=0.5)
    bill(electricity, 2025, months=range(1, 11))
    bill(gas, 2025, gas=True)
    return electricity


def figure_of(page):
    match = re.search(r'data-figure="([^"]*)"', page)
    assert match, "no chart in the page"
    return json.loads(html.unescape(match.group(1)))


def test_full_page_without_htmx(client, billed):
    response = client.get(f"/prelievi?punto={billed.code}")
    assert response.status_code == 200
    assert "<html" in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert "<h1>Prelievi Fatturati</h1>" in response.text
    assert 'aria-current="page">Prelievi Fatturati</a>' in response.text
    # The latest year, as a chart, with its totals.
    assert '<option value="2025" selected>2025</option>' in response.text
    assert '<option value="2024" >2024</option>' in response.text
    assert re.search(r'view-switch__option--active"\s+aria-current="page">Grafico</a>', response.text)
    assert "<dd>17.555,0 kWh</dd>" in response.text  # 10 periods: 10.550 + 4.000 + 3.005
    assert "<script>" not in response.text


def test_fragment_with_htmx(client, billed):
    response = client.get(f"/prelievi?punto={billed.code}&anno=2025&vista=grafico", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert response.text.strip().startswith("<div class=\"chart-toolbar\">")
    figure = figure_of(response.text)
    assert [trace["name"] for trace in figure["data"]] == [
        "F1", "F2", "F3", "2024 (stessi mesi)", "Potenza massima"]


def test_chart_and_table_carry_the_same_numbers(client, billed):
    chart = client.get(f"/prelievi?punto={billed.code}&anno=2025", headers=HTMX).text
    table = client.get(f"/prelievi?punto={billed.code}&anno=2025&vista=tabella", headers=HTMX).text
    assert "data-figure" not in table and "<table" not in chart
    figure = figure_of(chart)
    labels = figure["data"][0]["x"]
    assert labels == ["gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott"]
    rows = re.findall(r'<span class="period-label">([^<]*)</span>.*?</th>(.*?)</tr>', table, re.S)
    assert [label for label, _ in rows] == labels
    for index, (_, cells) in enumerate(rows):
        numbers = re.findall(r'<td class="num">(?:<strong>)?([^<]*)', cells)
        f1, f2, f3, previous, power = (trace["y"][index] for trace in figure["data"])
        assert numbers == [number_it(f1, 1), number_it(f2, 1), number_it(f3, 1),
                           number_it(f1 + f2 + f3, 1), number_it(previous, 1), number_it(power, 1)]
    assert "<th scope=\"row\">Totale 2025</th>" in table
    assert "<strong>17.555,0</strong>" in table


def test_previous_year_months_are_overlaid(client, billed):
    figure = figure_of(client.get(f"/prelievi?punto={billed.code}&anno=2025", headers=HTMX).text)
    previous = figure["data"][3]
    assert previous["x"][0] == "gen"
    assert previous["y"][0] == pytest.approx((1000 + 10) * 0.5 + 700.5)
    text = client.get(f"/prelievi?punto={billed.code}&anno=2025", headers=HTMX).text
    # Same months (January-October) of 2024 against 2025.
    assert "Rispetto al 2024 (stessi mesi)" in text
    assert "12.280,0 kWh · +43,0 %" in text  # 5.275 + 7.005 against 17.555


def test_year_selector(client, billed):
    response = client.get(f"/prelievi?punto={billed.code}&anno=2024&vista=tabella", headers=HTMX)
    assert '<option value="2024" selected>2024</option>' in response.text
    assert response.text.count('<span class="period-label">') == 12
    assert "01/12/2024 – 31/12/2024" in response.text
    assert "Totale 2024" in response.text
    assert 'name="vista" value="tabella"' in response.text  # the view survives a year change


@pytest.mark.parametrize("year", ["abc", "1900", "2026", "", "-1", "2025.0", "¹", "1" * 5000])
def test_unknown_years_fall_back_to_the_latest(client, billed, year):
    response = client.get(f"/prelievi?punto={billed.code}&anno={year}")
    assert response.status_code == 200
    assert '<option value="2025" selected>2025</option>' in response.text
    assert ("Non ci sono prelievi fatturati per l'anno richiesto" in response.text) == bool(year)


def test_gas_point_in_smc_without_bands(client, billed, logged_in):
    gas, _ = logged_in.supply_points_in_order()
    response = client.get(f"/prelievi?punto={gas.code}&vista=tabella")
    assert response.status_code == 200
    # The random CSRF token may contain "F1": it is left out of the search.
    text = re.sub(r'"X-CSRFToken": "[^"]*"|name="csrf_token" value="[^"]*"', "", response.text)
    assert "Totale (Smc)" in text and "F1" not in text
    assert "<strong>7.800</strong>" in response.text  # 100 x (1 + ... + 12)
    figure = figure_of(client.get(f"/prelievi?punto={gas.code}").text)
    assert [trace["name"] for trace in figure["data"]] == ["Energia 2025"]


def test_point_without_billed_consumption(client, logged_in):
    _, electricity = logged_in.supply_points_in_order()
    response = client.get(f"/prelievi?punto={electricity.code}")
    assert response.status_code == 200
    assert "Non sono ancora disponibili prelievi fatturati" in response.text
    assert "data-figure" not in response.text
    assert client.get(f"/prelievi/csv?punto={electricity.code}").status_code == 404


def test_csv_of_a_year(client, billed):
    response = client.get(f"/prelievi/csv?punto={billed.code}&anno=2025")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="prelievi-{billed.code}-2025.csv"')
    lines = response.get_data(as_text=True).split("\r\n")
    assert lines[0] == ("\ufeffDal;Al;Energia F1 (kWh);Energia F2 (kWh);Energia F3 (kWh);"
                        "Energia totale (kWh);Potenza massima (kW)")
    assert lines[1] == "01/01/2025;31/01/2025;1010;400;300,5;1710,5;3,1"
    assert lines[10] == "01/10/2025;31/10/2025;1100;400;300,5;1800,5;4"
    assert lines[11:] == [""]


def test_gas_csv(client, billed, logged_in):
    gas, _ = logged_in.supply_points_in_order()
    lines = client.get(f"/prelievi/csv?punto={gas.code}").get_data(as_text=True).split("\r\n")
    assert lines[0] == "\ufeffDal;Al;Energia totale (Smc);Potenza massima (kW)"
    assert lines[12] == "01/12/2025;31/12/2025;1200;"


@pytest.mark.parametrize("url", ["/prelievi", "/prelievi/csv"])
def test_another_customers_point_is_404(client, billed, other_customer, url):
    stranger = models.SupplyPoint.get(models.SupplyPoint.code == "PR999001")
    bill(stranger, 2025, gas=True, scale=7.77)
    response = client.get(f"{url}?punto={stranger.code}")
    assert response.status_code == 404
    assert "PR999001" not in response.text and "ALTRO CLIENTE SEGRETO" not in response.text
    assert "777" not in response.text
