"""The seed's journey in Chromium: add, refused second reading, delete with the seed's
question, add again, acquisition turns the row "Acquisita" by itself."""
import datetime
import re

from playwright.sync_api import expect

from portal import acquisition
from conftest import PASSWORD
from portal.formatting import date_it
from models import ReadingWindow, rome_now


def only_real_errors(errors):
    """A 422 answer (a refused form, swapped by htmx on purpose) is logged by Chromium
    as a failed resource; anything else is a real error."""
    return [error for error in errors if "status of 422" not in error]


def test_seed_journey(live_server, live_app, factory, page, console_errors):
    # A pending row polls; a short interval keeps the test from waiting a minute.
    live_app.config["READINGS_POLL_SECONDS"] = 1
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", is_company=True)
    factory.supply_point(person, "electricity", code="PR000100")
    factory.supply_point(person, "gas", code="PR002874", pdr_pod="03340009749021",
                         has_corrector=True)
    ReadingWindow.create(start_at=datetime.datetime(2010, 2, 11, 8, 0),
                         end_at=datetime.datetime(2099, 2, 14, 22, 0))

    page.goto(live_server.url + "/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_text("Benvenuto").first).to_be_visible()
    page.wait_for_load_state("load")  # htmx is ready only once the new page has loaded

    page.select_option("#punto", "PR002874")
    menu_entry = page.get_by_role("navigation", name="Menu").get_by_role(
        "link", name="Autolettura Contatore", exact=True)
    expect(menu_entry).to_be_visible()
    menu_entry.click()
    expect(page.get_by_role("heading", name="Elenco Autoletture")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/autolettura(\?punto=\w+)?$"))
    page.evaluate("window.notReloaded = true")

    def add(meter, corrector):
        page.get_by_role("link", name="Aggiungi").click()
        # The form opens with the cursor in the meter reading. htmx moves the focus there
        # once the swap settles, so typing before that could land in the wrong field.
        expect(page.get_by_label("Lettura contatore")).to_be_focused()
        page.get_by_label("Lettura contatore").fill(meter)
        page.get_by_label("Lettura correttore").fill(corrector)
        page.get_by_role("button", name="Salva").click()

    today = date_it(rome_now().date())
    add("45000", "1")
    row = page.locator("#reading-list tbody tr").first
    expect(row).to_contain_text(today)
    expect(row).to_contain_text("45.000")
    expect(row).to_contain_text("Da acquisire")
    expect(row.locator(".reading-delete")).to_be_visible()
    expect(page.get_by_role("link", name="Aggiungi")).to_be_visible()  # the form closed

    add("45010", "2")
    # The refusal, not the same words the form already showed as a warning when opened.
    expect(page.locator("#reading-form .notice--error")).to_contain_text(
        "è possibile inserire una sola lettura al giorno")
    expect(page.get_by_label("Lettura contatore")).to_have_value("45010")
    page.get_by_role("link", name="Annulla").click()
    expect(page.get_by_label("Lettura contatore")).to_have_count(0)

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    row.locator(".reading-delete").click()
    expect(page.locator("#reading-list")).to_contain_text("Nessuna autolettura inserita")
    assert dialogs == [f"Confermi la cancellazione della lettura del {today} ?"]

    add("45000", "1")
    row = page.locator("#reading-list tbody tr").first
    expect(row).to_contain_text("Da acquisire")

    run = acquisition.acquire(live_app.config["EXPORT_DIR"], trigger="command")
    assert run.reading_count == 1
    # The list refreshes when the window gets the focus back (or every minute).
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(row).to_contain_text("Acquisita")
    expect(row.locator(".reading-delete")).to_have_count(0)

    assert page.evaluate("window.notReloaded") is True
    assert only_real_errors(console_errors) == []
