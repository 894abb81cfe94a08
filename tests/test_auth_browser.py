"""Account journeys in a real browser (Chromium through Playwright)."""
import re

from playwright.sync_api import expect

import models
from conftest import PASSWORD

NEW_PASSWORD = "cavallo batteria graffetta"


def temporary_password_from(mailbox, index):
    return re.search(r"Password temporanea:\s+(\S+)", mailbox.text_of(index)).group(1)


def login(page, url, code, password):
    page.goto(f"{url}/login")
    page.get_by_label("User").fill(code)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Accedi").click()


def test_registration_journey(page, live_server, smtp_server, factory, console_errors):
    customer = factory.customer(code="123456", name="ROSSI MARIO", tax_code="RSSMRA80A01H501U",
                                registered=False, email="mario.rossi@example.it")
    factory.supply_point(customer, "gas", code="PR002874", pdr_pod="03340009749021",
                         has_corrector=True)
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Sei un cliente e vuoi registrarti ?").click()
    expect(page.get_by_role("heading", name="Registrazione nuovo utente")).to_be_visible()
    page.get_by_label("Codice cliente presente in fattura").fill("123456")
    page.get_by_label("Codice fiscale o partita IVA").fill("RSSMRA80A01H501U")
    page.get_by_role("button", name="Prosegui").click()

    expect(page.get_by_role("heading", name="Conferma registrazione")).to_be_visible()
    expect(page.get_by_text("ROSSI MARIO").first).to_be_visible()
    # The address on file, masked; the other-address field starts empty.
    expect(page.get_by_text("m***@example.it").first).to_be_visible()
    expect(page.get_by_label("Un altro indirizzo e-mail (facoltativo)")).to_have_value("")
    page.get_by_role("button", name="Conferma").click()
    expect(page.get_by_text("Le credenziali di accesso sono state inviate").first).to_be_visible()

    assert smtp_server.wait_for(1)
    temporary = temporary_password_from(smtp_server, 0)
    login(page, live_server.url, "123456", temporary)
    expect(page).to_have_url(re.compile(r"/cambio-password$"))
    expect(page.get_by_text("password temporanea").first).to_be_visible()
    page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Conferma").click()

    expect(page).to_have_url(re.compile(r"/home(\?punto=\w+)?$"))
    expect(page.get_by_text("Benvenuto ROSSI MARIO").first).to_be_visible()
    expect(page.get_by_text("Ultimo accesso: primo accesso").first).to_be_visible()
    expect(page.get_by_label("Punto di fornitura:")).to_contain_text(
        "VIA DEI POGGI 5 · Gas PR002874 · 57014 COLLESALVETTI (LI) · Pdr 03340009749021")
    assert smtp_server.wait_for(2)

    page.get_by_role("button", name="logout").click()
    expect(page.get_by_text("Sei uscito dall'Area Clienti.").first).to_be_visible()
    login(page, live_server.url, "123456", NEW_PASSWORD)
    expect(page.get_by_text("Benvenuto ROSSI MARIO").first).to_be_visible()
    # The previous successful login, as dd/mm/yy.
    expect(page.get_by_text(re.compile(r"Ultimo accesso: \d\d/\d\d/\d\d$")).first).to_be_visible()
    assert console_errors == []


def test_recovery_journey(page, live_server, smtp_server, factory, console_errors):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", email="ufficio@example.com")
    factory.supply_point(customer, "gas")
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Hai dimenticato la Password ?").click()
    page.get_by_label("Codice cliente").fill("654321")
    page.get_by_role("button", name="Invia nuova password").click()
    expect(page.get_by_text("Se il codice cliente è registrato al portale").first).to_be_visible()

    assert smtp_server.wait_for(1)
    assert smtp_server.messages[0][0] == ["ufficio@example.com"]
    login(page, live_server.url, "654321", temporary_password_from(smtp_server, 0))
    expect(page).to_have_url(re.compile(r"/cambio-password$"))
    # Nothing else opens before the new password is chosen.
    page.goto(f"{live_server.url}/home")
    expect(page).to_have_url(re.compile(r"/cambio-password$"))
    page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Conferma").click()
    expect(page.get_by_text("La password è stata modificata.").first).to_be_visible()
    assert console_errors == []


def test_menu_is_locked_while_changing_password(page, live_server, factory, console_errors):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    factory.supply_point(customer, "gas")
    login(page, live_server.url, "654321", PASSWORD)
    menu = page.locator("#menu")
    menu.get_by_role("link", name="Cambio Password").click()
    expect(page.get_by_role("heading", name="Cambio Password")).to_be_visible()
    expect(menu.get_by_role("link")).to_have_count(0)
    expect(menu.get_by_text("Home Page")).to_have_attribute("aria-disabled", "true")
    expect(page.get_by_label("Punto di fornitura:")).to_be_disabled()

    # A wrong current password: the message beside the field, the menu still locked.
    page.get_by_label("Password attuale").fill("sbagliata")
    page.get_by_label("Nuova password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Ripeti la nuova password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Conferma").click()
    expect(page.get_by_text("La password attuale non è corretta.").first).to_be_visible()
    expect(menu.get_by_role("link")).to_have_count(0)

    page.get_by_role("link", name="Annulla").click()
    expect(page.get_by_role("heading", name="Home Page")).to_be_visible()
    expect(menu.get_by_role("link", name="Cambio Password")).to_be_visible()
    expect(page.get_by_label("Punto di fornitura:")).to_be_enabled()
    assert console_errors == []


def test_login_works_with_javascript_off(browser, live_server, factory):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    factory.supply_point(customer, "gas")
    context = browser.new_context(java_script_enabled=False, locale="it-IT")
    page = context.new_page()
    login(page, live_server.url, "654321", "sbagliata!!")
    expect(page.get_by_text("Credenziali non valide.").first).to_be_visible()
    expect(page.get_by_label("User")).to_have_value("654321")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_text("Benvenuto ACQUE CHIARE S.R.L.").first).to_be_visible()
    page.get_by_role("button", name="logout").click()
    expect(page.get_by_role("heading", name="Autenticazione")).to_be_visible()
    assert models.AuditLog.select().where(models.AuditLog.event == "logout").count() == 1
    context.close()
