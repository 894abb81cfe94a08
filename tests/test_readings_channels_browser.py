"""A self-reading with a meter photo on a 360 px phone in Chromium: chosen in the form,
saved without a reload, its thumbnail (EXIF gone) in Informazioni; axe finds nothing."""
import datetime
import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

from conftest import PASSWORD
from models import ReadingWindow, SelfReading
from test_a11y_browser import AXE_OPTIONS, describe
from test_readings_channels import gps_jpeg

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="it-IT", viewport=PHONE, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    yield context.new_page()
    context.close()


def test_reading_with_a_photo_on_a_phone(live_server, live_app, factory, phone, tmp_path):
    page = phone
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", is_company=True)
    factory.supply_point(person, "gas", code="PR002874", pdr_pod="03340009749021")
    ReadingWindow.create(start_at=datetime.datetime(2010, 2, 11, 8, 0),
                         end_at=datetime.datetime(2099, 2, 14, 22, 0))
    not_a_photo = tmp_path / "bolletta.jpg"
    not_a_photo.write_bytes(b"%PDF-1.4\n%%EOF\n")
    photo = tmp_path / "IMG_0042.jpg"
    photo.write_bytes(gps_jpeg())

    page.goto(live_server.url + "/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page).to_have_url(re.compile(r"/home(\?|$)"))
    page.wait_for_load_state("load")
    page.goto(live_server.url + "/autolettura")
    page.get_by_role("link", name="Aggiungi").click()
    file_input = page.get_by_label("Foto del contatore (facoltativa)")
    # The phone offers its camera: a rear-camera capture of a JPEG or PNG.
    expect(file_input).to_have_attribute("capture", "environment")
    expect(file_input).to_have_attribute("accept", "image/jpeg,image/png")
    page.evaluate("window.notReloaded = true")

    # A PDF named .jpg: refused beside the field, the reading kept.
    page.get_by_label("Lettura contatore").fill("45000")
    file_input.set_input_files(str(not_a_photo))
    page.get_by_role("button", name="Salva").click()
    expect(page.locator("#photo-error")).to_contain_text("Sono accettate solo foto JPEG o PNG")
    expect(page.get_by_label("Lettura contatore")).to_have_value("45000")
    results = Axe().run(page, options=AXE_OPTIONS)
    assert not describe(results.response["violations"])
    page.screenshot(path=str(tmp_path / "phone-photo-refused.png"), full_page=True)

    page.get_by_label("Foto del contatore (facoltativa)").set_input_files(str(photo))
    page.get_by_role("button", name="Salva").click()
    expect(page.locator("#reading-form .notice--success")).to_contain_text("salvata")
    row = page.locator("#reading-list tbody tr").first
    thumbnail = row.get_by_role("img", name=re.compile("Foto del contatore della lettura del"))
    expect(thumbnail).to_be_visible()
    # The browser really decoded the served image.
    assert thumbnail.evaluate("image => image.complete && image.naturalWidth") > 0
    box = thumbnail.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(tmp_path / "phone-reading-photo.png"), full_page=True)

    reading = SelfReading.get()
    served = page.request.get(f"{live_server.url}/autolettura/{reading.id}/foto")
    assert served.ok
    with Image.open(io.BytesIO(served.body())) as image:
        assert not image.getexif() and max(image.size) == live_app.config["READING_PHOTO_LONG_SIDE"]
    results = Axe().run(page, options=AXE_OPTIONS)
    assert not describe(results.response["violations"])


def test_estimated_periods_are_drawn_hatched_in_the_bar_colour(live_server, factory, page):
    """plotly.js leaves a hatched bar without background unless told its colour: the
    estimated bars must be drawn, hatched, and the legend must show the key."""
    from models import BilledConsumption
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", is_company=True)
    gas = factory.supply_point(person, "gas", code="PR002874")
    for month, kind in ((1, "letta"), (2, "stimata"), (3, "autolettura")):
        BilledConsumption.create(supply_point=gas, period_start=datetime.date(2025, month, 1),
                                 period_end=datetime.date(2025, month, 28),
                                 energy_total=100.0 * month, unit="Smc", reading_kind=kind)
    page.goto(live_server.url + "/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page).to_have_url(re.compile(r"/home(\?|$)"))
    page.goto(live_server.url + "/prelievi?anno=2025")
    expect(page.locator("[data-figure]")).to_have_attribute("data-drawn", "true")
    expect(page.locator(".legend")).to_contain_text("Periodo con lettura stimata")
    fills = page.locator(".chart .trace.bars .point path").evaluate_all(
        "paths => paths.map(path => getComputedStyle(path).fill)")
    hatched = [fill for fill in fills if fill.startswith("url(")]
    assert len(hatched) >= 1 and len(fills) - len(hatched) == 2
    # Every pattern has its background rectangle in the bars' colour.
    backgrounds = page.locator("pattern").evaluate_all(
        "patterns => patterns.map(p => p.querySelector('rect') && p.querySelector('rect').getAttribute('fill'))")
    assert backgrounds and all(backgrounds)
