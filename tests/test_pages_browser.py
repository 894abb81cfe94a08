"""The customer pages in a real browser: swaps without reload, history, downloads, the
contact form."""
import datetime
import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import expect

import models
from conftest import PASSWORD


def login(page, url, code):
    page.goto(f"{url}/login")
    page.get_by_label("User").fill(code)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page).to_have_url(re.compile(r"/home(\?punto=\w+)?$"))
    page.wait_for_load_state("load")  # htmx is ready only once the new page has loaded


def add_invoice(point, number, date, pdf_path=None):
    return models.Invoice.create(
        number=number, supply_point=point, date=date, period_start=date.replace(day=1),
        period_end=date.replace(day=28), amount=Decimal("1234.56"),
        due_date=date + datetime.timedelta(days=20), paid=True, pdf_path=pdf_path)


def customer_with_two_points(factory):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.",
                                email="ufficio@acquechiare.example")
    gas = factory.supply_point(customer, "gas", code="PR002874", pdr_pod="03340009749021")
    electricity = factory.supply_point(customer, "electricity", code="PR002875",
                                       pdr_pod="IT001E04873215")
    return customer, gas, electricity


def menu(page):
    return page.get_by_role("navigation", name="Menu")


def test_switching_point_swaps_the_page_and_menu_and_back_restores_it(
        page, live_server, factory, console_errors):
    customer, gas, electricity = customer_with_two_points(factory)
    add_invoice(gas, "FT-GAS-1", datetime.date(2024, 1, 10))
    add_invoice(electricity, "FT-LUCE-1", datetime.date(2024, 1, 12))
    login(page, live_server.url, "654321")
    page.goto(f"{live_server.url}/fatture?punto={gas.code}")
    expect(page.get_by_role("cell", name="FT-GAS-1")).to_be_visible()
    expect(menu(page).get_by_role("link", name="Autolettura Contatore")).to_be_visible()
    expect(menu(page).get_by_role("link", name="Misure elettriche")).to_have_count(0)
    page.evaluate("window.marker = 1")

    page.get_by_label("Punto di fornitura:").select_option(electricity.code)

    expect(page).to_have_url(f"{live_server.url}/fatture?punto={electricity.code}")
    expect(page.get_by_role("cell", name="FT-LUCE-1")).to_be_visible()
    expect(page.get_by_role("cell", name="FT-GAS-1")).to_have_count(0)
    expect(menu(page).get_by_role("link", name="Misure elettriche")).to_be_visible()
    expect(menu(page).get_by_role("link", name="Autolettura Contatore")).to_have_count(0)
    assert page.evaluate("window.marker") == 1, "the page was reloaded"

    # The menu now leads to the other pages of the electricity point, still without reload.
    menu(page).get_by_role("link", name="Dati Tecnici").click()
    expect(page).to_have_url(f"{live_server.url}/dati-tecnici?punto={electricity.code}")
    expect(page.get_by_role("heading", name="Energia elettrica · PR002875")).to_be_visible()
    assert page.evaluate("window.marker") == 1

    # Back reloads the previous URL (no history cache: pages hold personal data).
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/fatture?punto={electricity.code}")
    expect(page.get_by_role("cell", name="FT-LUCE-1")).to_be_visible()
    page.wait_for_load_state("load")  # htmx listens for Back once the page has loaded
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/fatture?punto={gas.code}")
    expect(page.get_by_role("cell", name="FT-GAS-1")).to_be_visible()
    expect(page.get_by_label("Punto di fornitura:")).to_have_value(gas.code)
    expect(menu(page).get_by_role("link", name="Autolettura Contatore")).to_be_visible()
    expect(menu(page).get_by_role("link", name="Misure elettriche")).to_have_count(0)

    # A reload of the pushed URL gives the same page and point.
    page.reload()
    expect(page.get_by_role("cell", name="FT-GAS-1")).to_be_visible()
    assert console_errors == []


def test_year_filter_pages_and_pdf_download(page, live_server, factory, console_errors):
    customer, gas, _ = customer_with_two_points(factory)
    add_invoice(gas, "FT2019-000001", datetime.date(2019, 5, 3))
    add_invoice(gas, "FT2024-000123", datetime.date(2024, 2, 1), pdf_path="invoices/ft123.pdf")
    pdf = Path(live_server.app.config["FILES_DIR"]) / "invoices" / "ft123.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.4\n% fattura\n%%EOF\n")
    login(page, live_server.url, "654321")
    menu(page).get_by_role("link", name="Elenco fatture").click()
    expect(page.get_by_role("heading", name="Elenco fatture")).to_be_visible()
    page.evaluate("window.marker = 1")

    page.get_by_label("Anno").select_option("2019")
    expect(page.get_by_role("cell", name="FT2024-000123")).to_have_count(0)
    expect(page.get_by_role("cell", name="FT2019-000001")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/fatture\?punto=PR002874&anno=2019$"))
    assert page.evaluate("window.marker") == 1

    page.get_by_label("Anno").select_option("")
    download_link = page.get_by_role("link", name="Scarica PDF fattura n. FT2024-000123")
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == "Fattura-FT2024-000123.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF-1.4")
    assert console_errors == []


def test_missing_pdf_shows_a_message_instead_of_a_broken_download(page, live_server, factory,
                                                                 console_errors):
    customer, gas, _ = customer_with_two_points(factory)
    add_invoice(gas, "FT2024-000777", datetime.date(2024, 2, 1), pdf_path="invoices/persa.pdf")
    login(page, live_server.url, "654321")
    page.goto(f"{live_server.url}/fatture")

    page.get_by_role("link", name="Scarica PDF fattura n. FT2024-000777").click()

    expect(page.get_by_text("Il PDF di questa fattura non è al momento disponibile: contatta "
                            "il servizio clienti.").first).to_be_visible()
    assert [error.split(" at ")[0] for error in console_errors] == [
        "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"]


def test_invoice_table_fits_a_phone(page, live_server, factory, console_errors):
    customer, gas, _ = customer_with_two_points(factory)
    for month in range(1, 13):
        add_invoice(gas, f"FT2023-{month:06d}", datetime.date(2023, month, 5),
                    pdf_path="x.pdf")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "654321")
    page.goto(f"{live_server.url}/fatture")

    # Each row is a card read at a glance: the amount, in large type, and the status on
    # the first line; the cells below labelled by their column name (which screen
    # readers read too).
    number = page.get_by_role("cell", name="Numero FT2023-000012", exact=True)
    expect(number).to_be_visible()
    amount = page.get_by_role("cell", name="1.234,56 €", exact=True).first
    status = page.get_by_role("cell", name="Pagata", exact=True).first
    due = page.get_by_role("cell", name="Scadenza 25/12/2023", exact=True)
    expect(amount).to_be_visible()
    card = page.locator("table.invoices tbody tr").first.bounding_box()
    assert amount.bounding_box()["y"] < due.bounding_box()["y"] < number.bounding_box()["y"]
    assert abs(status.bounding_box()["y"] - amount.bounding_box()["y"]) < 12
    assert status.bounding_box()["x"] > amount.bounding_box()["x"] + 100
    size = "el => parseFloat(getComputedStyle(el).fontSize)"
    assert amount.evaluate(size) >= 1.3 * number.evaluate(size)
    # Twelve invoices in about three screens of a phone (7-line cards took 4,313 px for ten).
    assert card["height"] < 140
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert console_errors == []


def test_contact_edit_shows_the_error_keeps_the_value_then_saves(
        page, live_server, factory, smtp_server, console_errors):
    customer, _, _ = customer_with_two_points(factory)
    login(page, live_server.url, "654321")
    menu(page).get_by_role("link", name="Dati Anagrafici").click()
    expect(page.get_by_role("heading", name="Dati Anagrafici")).to_be_visible()
    page.evaluate("window.marker = 1")

    page.get_by_label("Telefono").fill("0586 12ab")
    page.get_by_label("E-Mail").fill("nuovo@acquechiare.example")
    page.get_by_role("button", name="Salva").click()

    expect(page.get_by_text("Numero di telefono non valido.").first).to_be_visible()
    expect(page.get_by_text("Per cambiare l'indirizzo e-mail inserisci la password attuale.")
           .first).to_be_visible()
    expect(page.get_by_label("Telefono")).to_have_value("0586 12ab")
    expect(page.get_by_label("Telefono")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("E-Mail")).to_have_value("nuovo@acquechiare.example")
    assert page.evaluate("window.marker") == 1

    page.get_by_label("Telefono").fill("+39 0586 765432")
    page.get_by_label("Password attuale").fill(PASSWORD)
    page.get_by_role("button", name="Salva").click()

    expect(page.get_by_text("Recapiti aggiornati: Telefono, E-Mail.").first).to_be_visible()
    expect(page.get_by_label("Password attuale")).to_have_value("")
    assert page.evaluate("window.marker") == 1
    saved = models.Customer.get_by_id(customer.id)
    assert (saved.phone, saved.email) == ("+39 0586 765432", "nuovo@acquechiare.example")
    assert smtp_server.wait_for(2)
    assert smtp_server.messages[0][0] == ["ufficio@acquechiare.example"]
    assert console_errors == []
