"""Every page in Chromium under the real Content-Security-Policy: no violation, no
console error, as a full page and after htmx navigation."""
import datetime
import re

from playwright.sync_api import expect

import models
from portal.backoffice import DEMO_ADMIN_PASSWORD, create_demo_operators
from conftest import PASSWORD


def customer_with_data(factory):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", is_company=True)
    gas = factory.supply_point(customer, "gas", has_corrector=True)
    electricity = factory.supply_point(customer, "electricity")
    today = models.rome_now().date()
    for point, unit in ((gas, "Smc"), (electricity, "kWh")):
        for month in range(1, 13):
            start = datetime.date(today.year - 1, month, 1)
            models.BilledConsumption.create(
                supply_point=point, period_start=start, period_end=start + datetime.timedelta(days=27),
                energy_f1=100 + month, energy_f2=80, energy_f3=60, energy_total=240 + month,
                max_power=3.2, unit=unit)
        models.Invoice.create(number=f"FT-{point.code}", supply_point=point, date=today,
                              period_start=today, period_end=today, amount="123.45",
                              due_date=today, paid=False)
    start = int(datetime.datetime.combine(today - datetime.timedelta(days=7),
                                          datetime.time()).timestamp())
    models.Measurement.insert_many(
        [(electricity.id, start + 900 * step, 0.1 + (step % 96) / 400, 1.0) for step in range(7 * 96)],
        fields=[models.Measurement.supply_point, models.Measurement.timestamp,
                models.Measurement.active_energy_kwh, models.Measurement.power_kw]).execute()
    models.ReadingWindow.create(start_at="2010-02-11 08:00:00", end_at="2099-02-14 22:00:00")
    models.Form.create(title="Modulo di reclamo", date=today, file_path="forms/reclamo.pdf")
    models.Document.create(customer=customer, title="Contratto", date=today,
                           file_path="documents/contratto.pdf")
    return customer, gas, electricity


def menu_urls(page):
    return page.locator("#menu a").evaluate_all("links => links.map(link => link.getAttribute('href'))")


def test_every_customer_page_is_clean(page, live_server, factory, console_errors):
    customer, gas, electricity = customer_with_data(factory)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    # The next goto must not cut the login's own navigation short.
    expect(page).to_have_url(re.compile(r"/home(\?|$)"))
    visited = []
    for point in (gas, electricity):
        page.goto(f"{live_server.url}/home?punto={point.code}")
        for url in menu_urls(page):
            # As a full page...
            page.goto(f"{live_server.url}{url}")
            page.wait_for_load_state("networkidle")
            visited.append(url)
        for url in menu_urls(page):
            # ...and through htmx, from the menu (Cambio Password locks it: visited above).
            if url == "/cambio-password":
                continue
            page.locator(f'#menu a[href="{url}"]').click()
            expect(page.locator(f'#menu a[href="{url}"]')).to_have_attribute("aria-current", "page")
            page.wait_for_load_state("networkidle")
    assert {"/misure", "/autolettura", "/prelievi", "/ticket", "/fatture"} <= set(visited)
    assert console_errors == []


def test_every_operator_page_is_clean(page, live_server, factory, console_errors):
    customer_with_data(factory)
    create_demo_operators()
    page.goto(f"{live_server.url}/operatore/login")
    page.get_by_label(re.compile("Utente|Nome utente|Username", re.I)).fill("admin")
    page.get_by_label("Password", exact=True).fill(DEMO_ADMIN_PASSWORD)
    page.get_by_role("button", name=re.compile("Accedi")).click()
    # The links are read from the inbox, not from the login page still on screen.
    expect(page).to_have_url(f"{live_server.url}/operatore/ticket")
    links = page.locator("main a[href^='/operatore']:not([download])").evaluate_all(
        "links => [...new Set(links.map(link => link.getAttribute('href')))]")
    assert len(links) >= 5
    for url in links + ["/operatore/clienti/654321", "/operatore/clienti?q=ACQUE",
                        "/operatore/ticket/reclami-senza-accesso"]:
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
    assert console_errors == []
