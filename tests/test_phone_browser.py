"""The customer pages on a phone, on paper, in the dark and without motion, in a real
browser: nothing wider than 320 px, the heading in the first screen, 44 px targets,
tables that scroll with a hint, the reader's own font size."""
import datetime
import io
from decimal import Decimal

import pytest
from PIL import Image
from playwright.sync_api import expect

import models
from test_charts_browser import electricity_customer, login  # noqa: F401 (a fixture)

CUSTOMER_PAGES = ["/home", "/fatture", "/prelievi", "/prelievi?vista=tabella", "/misure",
                  "/dati-anagrafici", "/dati-tecnici", "/documenti", "/modulistica",
                  "/dati-contrattuali", "/cambio-password"]
# The tests read the Italian pages: the browser asks for Italian, as a visitor in Italy.
PHONE = dict(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, locale="it-IT")


@pytest.fixture
def customer_with_invoices(electricity_customer):  # noqa: F811
    point = electricity_customer.supply_points_in_order()[0]
    for month in range(1, 13):
        start = datetime.date(2025, month, 1)
        models.Invoice.create(number=f"FT2025-{month:02d}", supply_point=point, date=start,
                              period_start=start, period_end=start.replace(day=28),
                              amount=Decimal("84.30"), due_date=start + datetime.timedelta(days=20),
                              paid=month % 3 != 0)
    return electricity_customer


@pytest.fixture
def phone(browser, live_server, customer_with_invoices):
    """A logged-in page on a 375 x 812 touch screen."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    login(page, live_server.url, "765432")
    yield page
    context.close()


def visit(page, url):
    page.goto(url)
    page.wait_for_load_state("load")


def test_nothing_is_wider_than_320_px(phone, live_server):
    phone.set_viewport_size({"width": 320, "height": 640})
    for path in CUSTOMER_PAGES + ["/autolettura"]:
        visit(phone, live_server.url + path)
        expect(phone.locator("h1")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 320, path
    # The Dal / Al form of Misure, which was 5 px too wide.
    visit(phone, f"{live_server.url}/misure")
    box = phone.locator(".period-form").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320


def test_the_heading_comes_in_the_first_screen(phone, live_server):
    """Header, picker and menu used to push the H1 to 569 px on this phone."""
    for path in ("/home", "/fatture", "/misure"):
        visit(phone, live_server.url + path)
        assert phone.locator("h1").bounding_box()["y"] < 320, path


TARGETS = ("button, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
           ".button, .menu-item, .pager__step, .view-switch__option, .section-links a, .pdf-link, "
           ".file-link, .link-button, .reading-delete")


def test_every_control_is_a_44_px_target(phone, live_server):
    small = []
    for path in CUSTOMER_PAGES:
        visit(phone, live_server.url + path)
        small += [f"{path}: {found}" for found in phone.evaluate(
            """selector => Array.from(document.querySelectorAll(selector))
                 .filter(el => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
                 .map(el => [el, el.getBoundingClientRect()])
                 .filter(([el, box]) => box.width > 1 && (box.height < 43.5 || box.width < 43.5))
                 .map(([el, box]) => `${el.outerHTML.slice(0, 80)} ${box.width}x${box.height}`)""",
            TARGETS)]
    assert small == []


def _edge_brightness(locator):
    """The mean brightness of the 3 px at the right edge of an element's screenshot."""
    image = Image.open(io.BytesIO(locator.screenshot())).convert("L")
    width, height = image.size
    pixels = [image.getpixel((x, y)) for x in range(width - 4, width - 1) for y in range(height)]
    return sum(pixels) / len(pixels)


def test_a_wide_table_scrolls_with_a_shadow_on_the_side_that_hides_more(phone, live_server):
    visit(phone, f"{live_server.url}/prelievi?vista=tabella")
    wrap = phone.locator(".table-wrap").first
    wrap.scroll_into_view_if_needed()
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth + 40")
    with_more = _edge_brightness(wrap)
    wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    phone.wait_for_timeout(100)
    at_the_end = _edge_brightness(wrap)
    # The shadow darkens the right edge while columns hide there, and goes at the end.
    assert at_the_end - with_more > 8, (with_more, at_the_end)


def test_the_readers_font_size_is_respected(browser, live_server, customer_with_invoices):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    # Chromium's "font size" setting, as a reader with large text sets it.
    page.context.new_cdp_session(page).send("Page.setFontSizes", {"fontSizes": {"standard": 24}})
    login(page, live_server.url, "765432")
    size = "el => parseFloat(getComputedStyle(el).fontSize)"
    assert page.locator("body").evaluate(size) == 24
    assert page.locator("h1").evaluate(size) > 24
    assert page.locator(".supply-picker select").evaluate(size) >= 20
    context.close()


def test_print_shows_the_content_only_with_whole_tables(page, live_server, customer_with_invoices):
    login(page, live_server.url, "765432")
    page.emulate_media(media="print")
    for path in ("/prelievi?vista=tabella", "/fatture", "/misure"):
        visit(page, live_server.url + path)
        expect(page.locator("h1")).to_be_visible()
        for chrome in (".top .who", "#supply-picker", "#menu", "button", ".pager", "form"):
            for element in page.locator(chrome).all():
                expect(element).to_be_hidden()
        for wrap in page.locator(".table-wrap").all():
            assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), path
    visit(page, f"{live_server.url}/fatture")
    assert page.locator("table.invoices thead").is_visible()
    assert page.locator("table.invoices tbody tr").first.evaluate(
        "el => getComputedStyle(el).display") == "table-row"


CONTRAST = """selector => {
  const rgb = text => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const colour = rgb(getComputedStyle(el).backgroundColor);
      if (colour.length < 4 || colour[3] > 0.5) return colour;
    }
    return [255, 255, 255];
  };
  return Array.from(document.querySelectorAll(selector))
    .filter(el => el.getClientRects().length && el.textContent.trim())
    .map(el => {
      const [a, b] = [luminance(rgb(getComputedStyle(el).color)), luminance(background(el))];
      return [el.outerHTML.slice(0, 60), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
    });
}"""


def test_the_dark_scheme_keeps_every_text_readable(browser, live_server, customer_with_invoices):
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 900}, locale="it-IT")
    page = context.new_page()
    login(page, live_server.url, "765432")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(map(int, background[4:-1].split(","))) < 3 * 60, background  # a dark page
    low = []
    for path in ("/home", "/fatture", "/prelievi?vista=tabella", "/dati-anagrafici", "/cambio-password"):
        visit(page, live_server.url + path)
        low += [f"{path}: {html} {ratio:.2f}" for html, ratio in page.evaluate(
            CONTRAST, "h1, h2, h3, p, dt, dd, th, td, label, a, .button, .menu-item:not(.disabled), "
                      ".status, .notice, .brand-name, .welcome") if ratio < 4.5]
    # The back-office: its bar, tabs, badges and tables.
    context.close()
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 900}, locale="it-IT")
    page = context.new_page()
    operator_login(page, live_server)
    for path in ("/operatore/ticket", "/operatore/clienti/765432", "/operatore/clienti/765432/fatture",
                 "/operatore/finestre", "/operatore/operatori"):
        visit(page, live_server.url + path)
        low += [f"{path}: {html} {ratio:.2f}" for html, ratio in page.evaluate(
            CONTRAST, "h1, h2, p, th, td, label, a, .button, .tabs a, .operator-nav a, .operator-title, "
                      ".ticket-status, .tag, .notice") if ratio < 4.5]
    assert low == []
    context.close()


def test_reduced_motion_turns_transitions_off(page, live_server, customer_with_invoices):
    login(page, live_server.url, "765432")
    fade = "() => { const c = document.getElementById('content'); c.classList.add('htmx-request'); " \
           "return parseFloat(getComputedStyle(c).transitionDuration); }"
    assert page.evaluate(fade) == pytest.approx(0.15)
    page.emulate_media(reduced_motion="reduce")
    assert page.evaluate(fade) < 0.001


def test_self_readings_on_a_320_px_phone(browser, live_server, factory):
    """The gas point's page: its form opened in place, the delete symbol and the pagers
    are finger-sized, and nothing scrolls sideways."""
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    gas = factory.supply_point(person, "gas", code="PR002874", has_corrector=True)
    models.ReadingWindow.create(start_at=datetime.datetime(2010, 2, 11, 8, 0),
                                end_at=datetime.datetime(2099, 2, 14, 22, 0))
    models.SelfReading.create(supply_point=gas, customer=person, meter_reading=12345,
                              corrector_reading=12000,
                              reading_date=models.rome_now().date() - datetime.timedelta(days=3))
    context = browser.new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}})
    page = context.new_page()
    login(page, live_server.url, "654321")
    visit(page, f"{live_server.url}/autolettura")
    page.get_by_role("link", name="Aggiungi").click()
    expect(page.locator(".reading-form form")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    small = page.evaluate(
        """selector => Array.from(document.querySelectorAll(selector))
             .filter(el => el.getClientRects().length)
             .map(el => [el, el.getBoundingClientRect()])
             .filter(([el, box]) => box.height < 43.5 || box.width < 43.5)
             .map(([el, box]) => `${el.outerHTML.slice(0, 80)} ${box.width}x${box.height}`)""", TARGETS)
    assert small == []
    assert page.locator(".reading-delete").count() == 1
    context.close()


def operator_login(page, live_server):
    from portal import backoffice
    backoffice.create_operator("capo", "Amministra-Demo-2015", role="admin", name="Anna Capo")
    page.goto(f"{live_server.url}/operatore/login")
    page.get_by_label("Nome utente").fill("capo")
    page.get_by_label("Password").fill("Amministra-Demo-2015")
    page.get_by_role("button", name="Accedi").click()
    expect(page.locator(".operator-bar")).to_be_visible()


BACK_OFFICE_PAGES = ["/operatore/ticket", "/operatore/clienti", "/operatore/clienti/765432",
                     "/operatore/clienti/765432/fatture", "/operatore/finestre", "/operatore/documenti",
                     "/operatore/acquisizione", "/operatore/registro", "/operatore/operatori",
                     "/operatore/posta", "/operatore/password"]


def test_the_back_office_on_a_320_px_phone(browser, live_server, customer_with_invoices):
    context = browser.new_context(**{**PHONE, "viewport": {"width": 320, "height": 640}})
    page = context.new_page()
    operator_login(page, live_server)
    wide, small = [], []
    for path in BACK_OFFICE_PAGES:
        visit(page, live_server.url + path)
        expect(page.locator("h1").first).to_be_visible()
        if page.evaluate("document.documentElement.scrollWidth") > 320:
            wide.append(path)
        small += [f"{path}: {found}" for found in page.evaluate(
            """selector => Array.from(document.querySelectorAll(selector))
                 .filter(el => el.getClientRects().length)
                 .map(el => [el, el.getBoundingClientRect()])
                 .filter(([el, box]) => box.height < 43.5 || box.width < 43.5)
                 .map(([el, box]) => `${el.outerHTML.slice(0, 80)} ${box.width}x${box.height}`)""",
            TARGETS)]
    assert wide == [] and small == []
    context.close()
