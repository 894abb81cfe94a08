"""The main journeys by keyboard alone in Chromium: log in, pick a supply point, open
Elenco fatture, add and delete a reading; where the focus goes, what the live region
says, the focus ring, the phone menu."""
import datetime
import re

import pytest
from playwright.sync_api import expect

import models
from conftest import PASSWORD

pytestmark = pytest.mark.browser

BRAND_DARK = "rgb(7, 63, 83)"


def tab_to(page, selector, limit=60, key="Tab"):
    """Press Tab until the element matching `selector` has the focus; the presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} never got the focus in {limit} presses")


def focused(page):
    return page.evaluate("""() => {
        const element = document.activeElement;
        return {tag: element.tagName.toLowerCase(), id: element.id,
                text: element.textContent.replace(/\\s+/g, " ").trim()};
    }""")


def announcer(page):
    return page.locator("#announcer")


@pytest.fixture
def two_points(factory):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    gas = factory.supply_point(customer, "gas", code="PR002874", pdr_pod="03340009749021",
                               has_corrector=False)
    electricity = factory.supply_point(customer, "electricity", code="PR002875",
                                       address="VIA GARIBALDI 12 - 57121 LIVORNO (LI)")
    third = factory.supply_point(customer, "gas", code="PR002876",
                                 address="VIA MAZZINI 3 - 57123 LIVORNO (LI)")
    models.Invoice.create(number="FT-LUCE-1", supply_point=electricity, date=datetime.date(2024, 1, 12),
                          period_start=datetime.date(2024, 1, 1), period_end=datetime.date(2024, 1, 31),
                          amount="80.00", due_date=datetime.date(2024, 2, 1), paid=True)
    models.ReadingWindow.create(start_at="2010-02-11 08:00:00", end_at="2099-02-14 22:00:00")
    return customer, gas, electricity, third


def log_in_by_keyboard(page, base_url):
    page.goto(f"{base_url}/login")
    tab_to(page, "#code")
    page.keyboard.type("654321")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/home(\?|$)"))
    page.wait_for_load_state("load")


def test_log_in_pick_a_point_and_open_the_invoices_by_keyboard(page, live_server, two_points,
                                                               console_errors):
    customer, gas, electricity, third = two_points
    requests = []
    page.on("request", lambda request: requests.append(request.url)
            if "/home" in request.url or "/fatture" in request.url else None)
    log_in_by_keyboard(page, live_server.url)
    expect(page.locator("h1")).to_have_text("Home Page")

    # The picker: arrows only move through the list; the page stays until Enter.
    tab_to(page, "#punto")
    requests.clear()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(500)
    assert requests == []
    assert page.locator("#punto").input_value() == third.code
    expect(page.locator(".point-title")).to_contain_text(gas.code)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/home?punto={electricity.code}")
    expect(page.locator(".point-title")).to_contain_text(electricity.code)
    assert len(requests) == 1
    # The swap moved the focus to the new page's heading and named the tab.
    expect(page.locator("h1")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Home Page · "))
    # The option shows the address first.
    assert page.locator("#punto option:checked").text_content().startswith(
        "VIA GARIBALDI 12 · Luce PR002875")

    # Elenco fatture from the menu, by Tab and Enter.
    tab_to(page, '#menu a[href="/fatture"]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/fatture"))
    heading = page.locator("#content h1")
    expect(heading).to_have_text("Elenco fatture")
    expect(heading).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Elenco fatture · "))
    expect(page.get_by_role("cell", name="FT-LUCE-1")).to_be_visible()
    assert console_errors == []


def test_add_and_delete_a_reading_by_keyboard(page, live_server, two_points, console_errors):
    customer, gas, electricity, third = two_points
    page.on("dialog", lambda dialog: dialog.accept())
    log_in_by_keyboard(page, live_server.url)
    tab_to(page, '#menu a[href="/autolettura"]')
    page.keyboard.press("Enter")
    expect(page.locator("#content h1")).to_be_focused()

    tab_to(page, "#reading-form a.button")  # Aggiungi
    page.keyboard.press("Enter")
    field = page.locator("#meter_reading")
    expect(field).to_be_focused()  # the form opens with the cursor in its field

    # A refused value: the message beside the field, read out, the cursor kept there.
    page.keyboard.type("12a")
    page.keyboard.press("Enter")
    expect(page.locator("#meter_reading-error")).to_be_visible()
    expect(field).to_be_focused()
    expect(field).to_have_value("12a")
    expect(announcer(page)).to_have_text(page.locator("#meter_reading-error").text_content())

    field.press("Control+a")
    page.keyboard.type("45000")
    page.keyboard.press("Enter")
    today = models.rome_now().date().strftime("%d/%m/%Y")
    notice = page.locator("#reading-form .notice--success")
    expect(notice).to_be_focused()
    expect(announcer(page)).to_contain_text(f"Lettura del {today} salvata")
    assert models.SelfReading.select().count() == 1

    # Delete it: the row goes, the news is read out, the focus lands on the list's title.
    tab_to(page, "a.reading-delete")
    page.keyboard.press("Enter")
    expect(page.locator("a.reading-delete")).to_have_count(0)
    expect(announcer(page)).to_have_text(f"Lettura del {today} cancellata.")
    expect(page.locator("#reading-list-title")).to_be_focused()
    assert models.SelfReading.select().count() == 0
    assert console_errors == []


def test_the_focus_ring_is_visible_and_contrasted(page, live_server, two_points):
    log_in_by_keyboard(page, live_server.url)
    seen = set()
    for _ in range(25):
        page.keyboard.press("Tab")
        ring = page.evaluate("""() => {
            const element = document.activeElement;
            const style = getComputedStyle(element);
            return {inHeader: !!element.closest(".top"), style: style.outlineStyle,
                    width: parseFloat(style.outlineWidth), color: style.outlineColor,
                    name: element.id || element.textContent.trim().slice(0, 20)};
        }""")
        seen.add(ring["name"])
        assert ring["style"] == "solid" and ring["width"] >= 3, ring
        # White on the header's brand blue (7.3:1), brand-dark elsewhere (>= 9.8:1).
        assert ring["color"] == ("rgb(255, 255, 255)" if ring["inHeader"] else BRAND_DARK), ring
    assert "logout" in seen and "punto" in seen


def test_the_phone_menu_waits_behind_a_button(page, live_server, two_points):
    page.set_viewport_size({"width": 375, "height": 812})
    log_in_by_keyboard(page, live_server.url)
    toggle = page.get_by_role("button", name="Menu", exact=True)  # the arrow is decoration
    entries = page.locator("#menu-entries")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(entries).to_be_hidden()
    # The page comes first: its heading within the first screen.
    assert page.locator("h1").bounding_box()["y"] < 400
    tab_to(page, "#menu .menu-toggle")
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(entries).to_be_visible()
    tab_to(page, '#menu a[href="/fatture"]')
    page.keyboard.press("Enter")
    expect(page.locator("#content h1")).to_be_focused()
    # A new page folds the menu again.
    expect(page.locator("#menu-entries")).to_be_hidden()
    # On a wide screen there is no button and the menu is open.
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.locator("#menu .menu-toggle")).to_be_hidden()
    expect(page.locator("#menu-entries")).to_be_visible()


def test_without_javascript_the_menu_is_simply_open(browser, live_server, two_points):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 812},
                                  locale="it-IT")
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.locator("#menu-entries")).to_be_visible()
    expect(page.locator("#menu .menu-toggle")).to_be_hidden()
    # The picker works without JavaScript through its Cambia punto button.
    page.locator("#punto").select_option("PR002875")
    page.get_by_role("button", name="Cambia punto").click()
    expect(page.locator(".point-title")).to_contain_text("PR002875")
    context.close()


def test_year_and_rows_lists_wait_for_the_choice_and_keep_the_focus(page, live_server, two_points):
    customer, gas, electricity, third = two_points
    for year in (2021, 2022, 2023):
        for month in range(1, 13):
            models.Invoice.create(number=f"FT-{year}-{month:02d}", supply_point=gas,
                                  date=datetime.date(year, month, 10),
                                  period_start=datetime.date(year, month, 1),
                                  period_end=datetime.date(year, month, 28), amount="50.00",
                                  due_date=datetime.date(year, month, 28), paid=True)
    requests = []
    page.on("request", lambda request: requests.append(request.url)
            if "/fatture?" in request.url else None)
    log_in_by_keyboard(page, live_server.url)
    page.goto(f"{live_server.url}/fatture?punto={gas.code}")
    page.wait_for_load_state("load")
    tab_to(page, "#anno")
    requests.clear()
    page.keyboard.press("ArrowDown")  # 2023
    page.keyboard.press("ArrowDown")  # 2022
    page.wait_for_timeout(400)
    assert requests == []
    page.keyboard.press("Enter")
    expect(page.get_by_role("cell", name="FT-2022-01")).to_be_visible()
    expect(page.get_by_role("cell", name="FT-2023-01")).to_have_count(0)
    assert len(requests) == 1 and "anno=2022" in requests[0]
    expect(page.locator("#anno")).to_be_focused()  # the filter stays where it was

    # The pager's next page: the list is replaced, the focus goes to the new list.
    page.locator("#anno").select_option("")
    expect(page.get_by_role("cell", name="FT-2023-12")).to_be_visible()
    page.wait_for_load_state("networkidle")  # the swap has settled: its pager is in place
    tab_to(page, '#invoice-list a[rel="next"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("cell", name="FT-2022-12")).to_be_visible()
    # The focus moves to the new list once the swap settles, a moment after the rows show.
    # (Not page.wait_for_function: its retries evaluate a string, which the CSP forbids.)
    expect(page.locator("#invoice-list")).to_be_focused()
