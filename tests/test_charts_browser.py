"""Charts in a real browser: drawn under the strict CSP, Grafico/Tabella switch, the
Dal/Al filter without reloads, the CSV download."""
import datetime
import re

import pytest
from playwright.sync_api import expect

from portal import timebands
import models
from conftest import PASSWORD

ITALIAN_DAY_MONTH = re.compile(r"\b\d{1,2} (gen|feb|mar|apr|mag|giu|lug|ago|set|ott|nov|dic)\b")


@pytest.fixture
def electricity_customer(factory):
    """A customer with one electricity point: 15-minute data for the last 40 days up
    to yesterday, and billed consumption of last year and this year."""
    person = factory.customer(code="765432", name="LUCE E GAS S.R.L.")
    point = factory.supply_point(person, "electricity", code="PR765432", pdr_pod="IT001E76543210")
    today = models.rome_now().date()
    start = timebands.midnight_timestamp(today - datetime.timedelta(days=40))
    end = timebands.midnight_timestamp(today)
    rows = [dict(supply_point=point, timestamp=moment, power_kw=1.0,
                 active_energy_kwh=0.1 + (moment // 3600 % 24) / 40)
            for moment in range(start, end, 900)]
    with models.db.atomic():
        for offset in range(0, len(rows), 2000):
            models.Measurement.insert_many(rows[offset:offset + 2000]).execute()
        for year in (today.year - 1, today.year):
            for month in range(1, 13):
                period_start = datetime.date(year, month, 1)
                models.BilledConsumption.create(
                    supply_point=point, period_start=period_start,
                    period_end=timebands.next_month(period_start) - datetime.timedelta(days=1),
                    energy_f1=1500.0 + 10 * month, energy_f2=600.0, energy_f3=450.0,
                    energy_total=2550.0 + 10 * month, max_power=5.5, unit="kWh")
    return person


def login(page, url, code):
    page.goto(f"{url}/login")
    page.get_by_label("User").fill(code)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page).to_have_url(re.compile(r"/home(\?|$)"))
    page.wait_for_load_state("load")  # htmx is ready only once the new page has loaded


def menu_link(page, label):
    return page.get_by_role("navigation", name="Menu").get_by_role("link", name=label, exact=True)


def plotly_requests(page):
    requests = []
    page.on("request", lambda request: requests.append(request.url)
            if "/grafici/plotly-" in request.url else None)
    return requests


def test_consumption_chart_and_table(page, live_server, electricity_customer, console_errors):
    fetched = plotly_requests(page)
    login(page, live_server.url, "765432")
    assert fetched == []  # no chart on the home page: plotly.js is not loaded

    menu_link(page, "Prelievi Fatturati").click()
    chart = page.locator("#consumption-data .chart")
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    expect(chart).to_have_attribute("data-drawn", "true")
    assert len(fetched) == 1
    # Italian numbers on the axis (2.000, not 2,000 or 2000) and Italian month names.
    ticks = chart.locator(".yaxislayer-above text").all_text_contents()
    assert any(re.fullmatch(r"\d\.\d{3}", tick) for tick in ticks), ticks
    assert chart.locator(".xaxislayer-above text").first.text_content() == "gen"
    page.evaluate("window.notReloaded = true")

    page.get_by_role("link", name="Tabella", exact=True).click()
    table = page.locator("#consumption-data table")
    expect(table).to_be_visible()
    expect(page).to_have_url(re.compile(r"vista=tabella"))
    expect(page.locator("#consumption-data .chart")).to_have_count(0)
    this_year = models.rome_now().year
    expect(table.locator("tfoot")).to_contain_text(f"Totale {this_year}")
    expect(table.locator("tbody tr").first).to_contain_text("1.510")

    page.get_by_label("Anno").select_option(str(this_year - 1))
    expect(page).to_have_url(re.compile(rf"anno={this_year - 1}"))
    expect(table.locator("tfoot")).to_contain_text(f"Totale {this_year - 1}")

    page.get_by_role("link", name="Grafico", exact=True).click()
    expect(page.locator("#consumption-data .chart svg.main-svg").first).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    assert len(fetched) == 1  # plotly.js stays loaded across swaps
    assert console_errors == []


def test_measurements_filter_and_download(page, live_server, electricity_customer, console_errors):
    login(page, live_server.url, "765432")
    menu_link(page, "Misure elettriche").click()
    expect(page).to_have_url(re.compile(r"/misure(\?punto=\w+)?$"))
    chart = page.locator("#measurements-data .chart")
    expect(chart.locator("svg.main-svg").first).to_be_visible()
    expect(page.locator(".chart-caption")).to_contain_text("dettaglio 15 minuti")
    # Bars coloured by band: at least F1 and F3 traces drawn.
    expect(chart.locator(".barlayer .trace").first).to_be_visible()
    assert chart.locator(".legendtext").all_text_contents()[:3] == ["F1", "F2", "F3"]
    page.evaluate("window.notReloaded = true")

    today = models.rome_now().date()
    first, last = today - datetime.timedelta(days=20), today - datetime.timedelta(days=1)
    page.get_by_label("Dal", exact=True).fill(first.isoformat())
    page.get_by_label("Al", exact=True).fill(last.isoformat())
    page.get_by_role("button", name="Mostra").click()
    expect(page.locator(".chart-caption")).to_contain_text("dettaglio orario")
    expect(page.locator(".chart-caption")).to_contain_text(first.strftime("%d/%m/%Y"))
    expect(page).to_have_url(re.compile(rf"dal={first.isoformat()}&al={last.isoformat()}"))
    expect(page.locator("#measurements-data .chart[data-drawn=true] svg.main-svg").first).to_be_visible()
    ticks = " ".join(page.locator("#measurements-data .chart .xaxislayer-above text").all_text_contents())
    assert ITALIAN_DAY_MONTH.search(ticks), ticks

    # Inverted dates: a message beside the field, no chart, no reload.
    page.get_by_label("Dal", exact=True).fill(last.isoformat())
    page.get_by_label("Al", exact=True).fill(first.isoformat())
    page.get_by_role("button", name="Mostra").click()
    expect(page.locator("#al-error")).to_have_text("La data «Al» non può precedere la data «Dal».")
    expect(page.get_by_label("Al", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#measurements-data .chart")).to_have_count(0)

    two_days = (today - datetime.timedelta(days=2), today - datetime.timedelta(days=1))
    page.get_by_label("Dal", exact=True).fill(two_days[0].isoformat())
    page.get_by_label("Al", exact=True).fill(two_days[1].isoformat())
    page.get_by_role("button", name="Mostra").click()
    expect(page.locator("#measurements-data .chart[data-drawn=true] svg.main-svg").first).to_be_visible()
    assert page.evaluate("window.notReloaded") is True

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Scarica CSV").click()
    download = download_info.value
    assert download.suggested_filename == (
        f"misure-IT001E76543210-{two_days[0]:%Y%m%d}-{two_days[1]:%Y%m%d}.csv")
    with open(download.path(), encoding="utf-8-sig", newline="") as file:
        lines = file.read().split("\r\n")
    start = timebands.midnight_timestamp(two_days[0])
    end = timebands.midnight_timestamp(today)
    assert lines[0] == "Data e ora inizio;Fuso orario;Fascia;Energia attiva (kWh);Potenza (kW)"
    assert len(lines) - 2 == (end - start) // 900
    assert lines[1].startswith(f"{two_days[0]:%d/%m/%Y} 00:00;UTC+0")
    first_kwh = f"{0.1 + (start // 3600 % 24) / 40:.3f}".replace(".", ",")
    assert lines[1].endswith(f";F3;{first_kwh};1,000")
    assert console_errors == []


def test_picker_to_a_gas_point_explains_and_hides_the_menu_entry(page, live_server, electricity_customer,
                                                                 factory, console_errors):
    gas = factory.supply_point(electricity_customer, "gas", code="PR765439")
    login(page, live_server.url, "765432")
    menu_link(page, "Misure elettriche").click()
    expect(page.locator("#measurements-data .chart svg.main-svg").first).to_be_visible()
    page.get_by_label("Punto di fornitura:").select_option(gas.code)
    expect(page.get_by_text("disponibili solo per i punti di fornitura di energia elettrica").first).to_be_visible()
    expect(menu_link(page, "Misure elettriche")).to_have_count(0)
    # A 404 is logged by the browser as a failed resource; nothing else may appear.
    assert [error for error in console_errors if "404" not in error] == []


def test_chart_toolbar_is_ours_and_outside_the_image(page, live_server, electricity_customer,
                                                      console_errors):
    login(page, live_server.url, "765432")
    menu_link(page, "Misure elettriche").click()
    chart = page.locator("#measurements-data .chart")
    expect(chart).to_have_attribute("data-drawn", "true")
    # No Plotly toolbar: nothing that shares, uploads or speaks English.
    assert page.locator(".modebar, .modebar-btn").count() == 0
    expect(page.get_by_text(re.compile("Share|Plotly Cloud|Download plot"))).to_have_count(0)
    tools = page.get_by_role("toolbar", name="Strumenti del grafico")
    expect(tools).to_be_visible()
    assert tools.evaluate("element => element.closest('[role=img]')") is None
    assert chart.locator("a[href], button, [tabindex]").count() == 0

    with page.expect_download() as download:
        tools.get_by_role("button", name="Scarica il grafico come immagine PNG").click()
    assert download.value.suggested_filename.startswith("misure-IT001E76543210-")
    assert download.value.suggested_filename.endswith(".png")

    page.evaluate("() => Plotly.relayout(document.querySelector('#measurements-data .chart'),"
                  " {'xaxis.range': [0, 1]})")
    assert chart.evaluate("element => element.layout.xaxis.autorange") is False
    tools.get_by_role("button", name="Ripristina la vista del grafico").click()
    # Polled from here: page.wait_for_function's retries evaluate a string, which the CSP
    # forbids, so it fails whenever the first try is too early.
    for _ in range(100):
        if chart.evaluate("element => element.layout.xaxis.autorange") is True:
            break
        page.wait_for_timeout(50)
    assert chart.evaluate("element => element.layout.xaxis.autorange") is True
    assert console_errors == []
