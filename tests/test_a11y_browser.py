"""axe-core over every page in Chromium: customer (each kind of supply point), public
and back-office pages, as full loads, after htmx swaps and on a 360 px phone, against
the WCAG 2.0/2.1 A and AA rules and axe's best practices: zero violations."""
import datetime
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

import models
from conftest import PASSWORD
from portal import notices
from portal.backoffice import DEMO_ADMIN_PASSWORD, create_demo_operators
from test_csp_browser import customer_with_data

pytestmark = pytest.mark.browser

AXE = Axe()
AXE_OPTIONS = {
    "runOnly": {"type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}
# The crawl runs once per language the portal speaks, chosen with the page's switch;
# the back-office is Italian only.
LANGUAGES = ["it", "en"]
PHONE = {"width": 360, "height": 740}


def describe(violations):
    """One readable line per violation and element."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
                         f"    {' '.join(str(part) for part in node['target'])}\n"
                         f"    {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return lines


class Crawl:
    """Runs axe on each page it is shown and keeps what it finds, by page."""

    def __init__(self, page, language):
        self.page = page
        self.language = language
        self.found = {}
        self.checked = []

    def check(self, where):
        self.page.wait_for_load_state("networkidle")
        # A chart is checked drawn, with Plotly's own markup.
        for chart in self.page.locator("[data-figure]").all():
            expect(chart).to_have_attribute("data-drawn", "true")
        # The back-office speaks Italian only.
        language = "it" if "/operatore" in self.page.url else self.language
        expect(self.page.locator("html")).to_have_attribute("lang", language)
        results = AXE.run(self.page, options=AXE_OPTIONS)
        self.checked.append(where)
        lines = describe(results.response["violations"])
        if lines:
            self.found[where] = lines

    def visit(self, url, where=None):
        self.page.goto(url)
        self.check(where or url)

    def report(self):
        return "\n".join(f"{where}:\n  " + "\n  ".join(lines) for where, lines in self.found.items())


    def choose_language(self, base_url):
        """Take the page's language from the switch, as a visitor does (the browser
        of the tests asks for Italian)."""
        self.page.goto(f"{base_url}/login")
        if self.language != "it":
            self.page.locator(f'button[name="lingua"][value="{self.language}"]').click()
            expect(self.page.locator("html")).to_have_attribute("lang", self.language)


@pytest.fixture(params=LANGUAGES)
def crawl(request, page, live_server):
    crawl = Crawl(page, request.param)
    crawl.choose_language(live_server.url)
    return crawl


@pytest.fixture
def italian_crawl(page):
    return Crawl(page, "it")


def menu_urls(page):
    return page.locator("#menu a").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))")


def seed_customer_pages(factory, files_dir):
    """The customer of the CSP crawl, with a ticket, a pending reading (entered by
    phone, with a meter photo), billed periods read, self-read and estimated (the last
    one estimated: the home page's note) and a point that passed to another holder:
    every kind of page has something to show."""
    customer, gas, electricity = customer_with_data(factory)
    ticket = models.Ticket.create(customer=customer, subject="Bolletta di marzo",
                                  category="fatturazione")
    models.TicketMessage.create(ticket=ticket, body="Non mi torna l'importo.")
    photo = Path(files_dir) / "readings" / "demo.png"
    photo.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (160, 120), (30, 30, 30)).save(photo, "PNG")
    reading = models.SelfReading.create(supply_point=gas, reading_date=models.rome_now().date(),
                                        meter_reading=1234, corrector_reading=1200,
                                        channel="telefono", operator="admin",
                                        photo_path="readings/demo.png")
    for period in models.BilledConsumption.select().where(
            models.BilledConsumption.supply_point == gas):
        period.reading_kind = ("stimata", "letta", "autolettura")[period.period_start.month % 3]
        period.save()
    # Every way to pay, a payment reported and a direct-debit mandate waiting.
    invoice = models.Invoice.get(models.Invoice.supply_point == gas)
    models.Invoice.update(pagopa_notice="302000100000009424", pagopa_creditor="00123450017",
                          payment_link="https://pagamenti.example.it/paga/1").where(
        models.Invoice.id == invoice.id).execute()
    models.PaymentReport.create(invoice=invoice, customer=customer, file_name="ricevuta.pdf",
                                file_path="payment-reports/ricevuta.pdf",
                                content_type="application/pdf")
    models.PaymentReport.create(invoice=invoice, customer=customer, file_name="bonifico.pdf",
                                file_path="payment-reports/bonifico.pdf",
                                content_type="application/pdf", handled_at=models.utcnow(),
                                handled_note="Accredito visto sul conto")
    models.DirectDebitMandate.create(reference="ACM-20260101-A11Y", customer=customer,
                                     supply_point=gas, iban="IT60X0542811101000000123456",
                                     account_holder="ACQUE CHIARE S.R.L.")
    return customer, gas, electricity, ticket, reading


def login(page, base_url):
    page.goto(f"{base_url}/login")
    page.locator('input[name="code"]').fill("654321")
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    expect(page).to_have_url(re.compile(r"/home(\?|$)"))
    page.wait_for_load_state("load")


def test_customer_pages_have_no_axe_violations(crawl, live_server, live_app, factory):
    customer, gas, electricity, ticket, reading = seed_customer_pages(
        factory, live_app.config["FILES_DIR"])
    # Cases late: one still unanswered, one answered late with its indemnity.
    late_cases = [models.Ticket.create(
        customer=customer, subject=subject, category="Altro", kind="reclamo",
        received_at=models.utcnow() - datetime.timedelta(days=received),
        answered_at=answered and models.utcnow() - datetime.timedelta(days=answered),
        due_on=models.rome_now().date() - datetime.timedelta(days=received - 30))
        for subject, received, answered in (("In ritardo", 40, None), ("Tardiva", 80, 40))]
    page, base = crawl.page, live_server.url
    login(page, base)
    for point in (gas, electricity):
        page.goto(f"{base}/home?punto={point.code}")
        urls = menu_urls(page)
        extra = [f"/ticket/{ticket.id}", "/ticket/nuovo", "/dati-anagrafici/avvisi"]
        extra += [f"/ticket/{case.id}" for case in late_cases]
        extra += [f"/ticket/nuovo?tipo={kind}" for kind in (
            "reclamo", "rettifica", "rateizzazione", "voltura", "disdetta", "indirizzo")]
        invoice = models.Invoice.get(models.Invoice.supply_point == point)
        extra += [f"/fatture/{invoice.id}", f"/pagamenti/fatture/{invoice.id}/segnala",
                  f"/pagamenti?scelta=1&fattura={invoice.id}",
                  f"/pagamenti/domiciliazione?punto={point.code}"]
        if point is gas:
            extra += ["/autolettura/nuova", f"/autolettura/{reading.id}/cancella",
                      "/prelievi?vista=tabella"]
        for url in urls + extra:
            crawl.visit(f"{base}{url}", f"{point.commodity} {url}")
        # After htmx swaps, from the menu (Cambio Password locks it: visited above).
        for url in urls:
            if url == "/cambio-password":
                continue
            page.locator(f'#menu a[href="{url}"]').click()
            expect(page.locator(f'#menu a[href="{url}"]')).to_have_attribute("aria-current", "page")
            crawl.check(f"{point.commodity} {url} (htmx)")
        # On a phone.
        page.set_viewport_size(PHONE)
        for url in urls:
            crawl.visit(f"{base}{url}", f"{point.commodity} {url} (360 px)")
        page.set_viewport_size({"width": 1280, "height": 720})
    # Avvisi e bolletta web, saved by htmx; then the unsubscribe link of a notice, asked
    # and done, on a desktop and on a phone.
    page.goto(f"{base}/dati-anagrafici/avvisi")
    page.locator('#notice-form button[type="submit"]').click()
    expect(page.locator("#notice-form .notice--success")).to_be_visible()
    crawl.check("/dati-anagrafici/avvisi saved (htmx)")
    with live_app.test_request_context():
        unsubscribe = notices.unsubscribe_url(customer, notices.PAYMENTS).replace(
            live_app.config["BASE_URL"].rstrip("/"), base)
    for viewport in ({"width": 1280, "height": 720}, PHONE):
        page.set_viewport_size(viewport)
        crawl.visit(unsubscribe, f"unsubscribe ({viewport['width']} px)")
        page.locator('main form button[type="submit"]').click()
        page.wait_for_load_state("load")
        crawl.check(f"unsubscribed ({viewport['width']} px)")
    page.set_viewport_size({"width": 1280, "height": 720})
    assert len(crawl.checked) > 60
    assert not crawl.found, "axe violations:\n" + crawl.report()


def test_public_pages_have_no_axe_violations(crawl, live_server):
    page, base = crawl.page, live_server.url
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 740})
        for url in ("/login", "/registrazione", "/password-dimenticata", "/operatore/login",
                    "/pagina-che-non-esiste", "/ticket/reclamo", "/ticket/reclamo/conferma/falso"):
            crawl.visit(f"{base}{url}", f"{url} ({width} px)")
        # A refused login shows its message and keeps the code.
        page.goto(f"{base}/login")
        page.locator('input[name="code"]').fill("12")
        page.locator('input[name="code"]').press("Enter")
        page.wait_for_load_state("load")
        crawl.check(f"/login refused ({width} px)")
        # A refused complaint without login shows its messages beside the fields.
        page.goto(f"{base}/ticket/reclamo")
        page.get_by_role("button", name=re.compile("Invia il reclamo|Send the complaint")).click()
        expect(page.locator(".field--error").first).to_be_visible()
        crawl.check(f"/ticket/reclamo refused ({width} px)")
    assert not crawl.found, "axe violations:\n" + crawl.report()


def test_the_unsubscribe_pages_have_no_axe_violations(crawl, live_server, live_app, factory):
    """A notice's unsubscribe link, opened without login, and the page after its button."""
    customer = factory.customer()
    with live_app.test_request_context():
        url = notices.unsubscribe_url(customer, notices.PAYMENTS)
    path = url[url.index("/avvisi/"):]
    page, base = crawl.page, live_server.url
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 740})
        crawl.visit(f"{base}{path}", f"unsubscribe ({width} px)")
        page.get_by_role("button", name=re.compile(
            "Non ricevere più questo avviso|Stop receiving this notice")).click()
        expect(page.locator(".notice--success")).to_be_visible()
        crawl.check(f"unsubscribe done ({width} px)")
    assert not notices.wants(customer, notices.PAYMENTS)
    assert not crawl.found, "axe violations:\n" + crawl.report()


def test_back_office_pages_have_no_axe_violations(italian_crawl, live_server, live_app, factory):
    crawl = italian_crawl
    customer, gas, electricity, ticket, reading = seed_customer_pages(
        factory, live_app.config["FILES_DIR"])
    create_demo_operators()
    page, base = crawl.page, live_server.url
    page.goto(f"{base}/operatore/login")
    page.get_by_label(re.compile("Utente|Nome utente|Username", re.I)).fill("admin")
    page.get_by_label("Password", exact=True).fill(DEMO_ADMIN_PASSWORD)
    page.get_by_role("button", name=re.compile("Accedi")).click()
    expect(page).to_have_url(f"{base}/operatore/ticket")
    links = page.locator("a[href^='/operatore']:not([download])").evaluate_all(
        "links => [...new Set(links.map(link => link.getAttribute('href')))]")
    assert len(links) >= 5
    customer_url = f"/operatore/clienti/{customer.code}"
    pages = links + [f"/operatore/ticket/{ticket.id}", customer_url, "/operatore/clienti?q=ACQUE",
                     "/operatore/ticket?coda=overdue", "/operatore/ticket/reclami-senza-accesso",
                     "/operatore/pagamenti-segnalati?stato=verificati",
                     "/operatore/ticket/registro.csv?dal=2026-05-01&al=2026-04-01"]
    pages += [f"{customer_url}/{section}" for section in ("fatture", "autoletture", "ticket", "documenti")]
    pages.append(f"{customer_url}/autoletture/nuova")
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 740})
        for url in dict.fromkeys(pages):
            crawl.visit(f"{base}{url}", f"{url} ({width} px)")
    # After htmx swaps, from the back-office bar.
    page.set_viewport_size({"width": 1280, "height": 740})
    page.goto(f"{base}/operatore/ticket")
    nav = page.get_by_role("navigation", name="Back-office")
    for url in nav.locator("a").evaluate_all("links => links.map(link => link.getAttribute('href'))"):
        nav.locator(f'a[href="{url}"]').click()
        expect(nav.locator(f'a[href="{url}"]')).to_have_attribute("aria-current", "page")
        crawl.check(f"{url} (htmx)")
    assert len(crawl.checked) > 40
    assert not crawl.found, "axe violations:\n" + crawl.report()
