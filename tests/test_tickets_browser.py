"""In Chromium: a customer opens a ticket with an attachment, an operator answers it in
the back-office, the customer reads the answer and has the e-mail."""
import datetime
import re

from playwright.sync_api import expect

from portal import backoffice
import models
from conftest import PASSWORD

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
OPERATOR_PASSWORD = "sportello-di-collesalvetti"


def collect_errors(page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def operator_page(browser, live_server):
    """A second browser context (its own cookies) logged in to the back-office."""
    context = browser.new_context(accept_downloads=True, locale="it-IT")
    staff = context.new_page()
    errors = collect_errors(staff)
    staff.goto(live_server.url + "/operatore/login")
    staff.get_by_label("Nome utente").fill("laura")
    staff.get_by_label("Password").fill(OPERATOR_PASSWORD)
    staff.get_by_role("button", name="Accedi").click()
    expect(staff.get_by_role("heading", name="Ticket", exact=True)).to_be_visible()
    staff.wait_for_load_state("load")  # htmx is ready only once the new page has loaded
    return staff, errors


def test_ticket_journey(live_server, page, console_errors, browser, factory, smtp_server, tmp_path):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", email="acque@example.it")
    factory.supply_point(customer, "gas", has_corrector=True)
    backoffice.create_operator("laura", OPERATOR_PASSWORD, name="Laura Bianchi")
    attachment = tmp_path / "foto contatore.pdf"
    attachment.write_bytes(PDF)

    # The customer logs in, goes to Ticket and opens one with an attachment.
    page.goto(live_server.url + "/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_text("Benvenuto").first).to_be_visible()
    page.wait_for_load_state("load")  # htmx is ready only once the new page has loaded
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Ticket").click()
    expect(page.get_by_text("Non hai ancora aperto ticket.").first).to_be_visible()
    page.get_by_role("link", name="Nuova richiesta").click()
    expect(page).to_have_url(re.compile(r"/ticket/nuovo(\?punto=\w+)?$"))
    page.get_by_role("link", name="Richiesta di informazioni").click()
    expect(page).to_have_url(re.compile(r"/ticket/nuovo\?tipo=informazioni(&punto=\w+)?$"))
    page.get_by_label("Oggetto").fill("Lettura in fattura errata")
    page.get_by_label("Messaggio").fill("Il contatore segna 44.100, la fattura dice 45.000.")
    page.get_by_label("Allegato (facoltativo)").set_input_files(str(attachment))
    page.get_by_role("button", name="Invia").click()
    expect(page.get_by_text("Richiesta registrata con il codice pratica").first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(models.Ticket.get_by_id(1).code)
    expect(page.locator(".ticket-status")).to_have_text("Aperto")
    with page.expect_download() as download:
        page.get_by_role("link", name="foto contatore.pdf").click()
    assert download.value.suggested_filename == "foto contatore.pdf"
    assert smtp_server.wait_for(2)  # the back-office mailbox and the customer's receipt
    assert sorted(to for to, _ in smtp_server.messages) == [["acque@example.it"], ["clienti@example.it"]]

    # An operator finds it in the inbox and answers; the page swaps without a reload.
    staff, staff_errors = operator_page(browser, live_server)
    staff.get_by_label("Cerca").fill("fattura errata")
    expect(staff.locator("#ticket-inbox")).to_contain_text("da rispondere")
    staff.get_by_role("link", name="Lettura in fattura errata").click()
    expect(staff.get_by_text("Il contatore segna 44.100")).to_be_visible()
    staff.evaluate("window.notReloaded = true")
    staff.get_by_label("Nota interna (il cliente non la vede)").fill("Controllare la foto con il letturista")
    staff.get_by_role("button", name="Aggiungi nota").click()
    expect(staff.get_by_text("Nota interna aggiunta.")).to_be_visible()
    staff.get_by_label("Messaggio").fill("Abbiamo corretto la lettura: riceverà una fattura di conguaglio.")
    staff.get_by_role("button", name="Invia risposta").click()
    expect(staff.get_by_text("Risposta inviata: il cliente riceverà un avviso per e-mail.")).to_be_visible()
    assert staff.evaluate("window.notReloaded") is True
    expect(staff.locator(".ticket-summary .ticket-status")).to_have_text("In lavorazione")

    # The customer has the e-mail and reads the answer, never the note.
    assert smtp_server.wait_for(3)
    recipients, message = smtp_server.messages[2]
    assert recipients == ["acque@example.it"]
    assert message["Subject"].startswith("Area Clienti: risposta alla pratica CP-")
    assert f"{live_server.url}/ticket/1" in smtp_server.text_of(2)
    page.get_by_role("link", name="‹ Tutti i ticket").click()
    expect(page.locator("#ticket-list")).to_contain_text("In lavorazione")
    page.get_by_role("link", name="Lettura in fattura errata").click()
    expect(page.get_by_text("Abbiamo corretto la lettura").first).to_be_visible()
    expect(page.get_by_text("Servizio clienti", exact=True).first).to_be_visible()
    expect(page.get_by_text("Controllare la foto")).to_have_count(0)

    # The customer closes it (confirm dialog), then reopens it by replying.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Chiudi il ticket").click()
    expect(page.get_by_text("Il ticket è stato chiuso.").first).to_be_visible()
    page.get_by_label("Messaggio").fill("In realtà manca ancora il conguaglio.")
    page.get_by_role("button", name="Invia e riapri il ticket").click()
    expect(page.get_by_text("Messaggio inviato: il ticket è stato riaperto.").first).to_be_visible()
    assert models.Ticket.get_by_id(1).status == "Aperto"
    assert console_errors == []
    assert staff_errors == []


def test_operator_deletes_a_reading_window_after_confirming(live_server, browser, factory):
    backoffice.create_operator("laura", OPERATOR_PASSWORD)
    models.ReadingWindow.create(start_at=datetime.datetime(2099, 2, 11, 8), end_at=datetime.datetime(2099, 2, 14, 22))
    models.ReadingWindow.create(start_at=datetime.datetime(2099, 5, 11, 8), end_at=datetime.datetime(2099, 5, 14, 22))
    staff, errors = operator_page(browser, live_server)
    staff.get_by_role("link", name="Periodi di autolettura").click()
    rows = staff.locator("#window-list tbody tr")
    expect(rows).to_have_count(2)
    messages = []

    def answer(dialog):
        messages.append(dialog.message)
        dialog.accept()

    staff.once("dialog", answer)
    rows.filter(has_text="11/05/2099").get_by_role("button", name="Cancella").click()
    expect(rows).to_have_count(1)
    assert messages == ["Confermi la cancellazione del periodo dal 11/05/2099 al 14/05/2099 ?"]
    assert models.ReadingWindow.select().count() == 1
    assert errors == []


def test_a_customer_files_a_rettifica_for_one_of_their_invoices_and_gets_the_receipt(
        live_server, page, console_errors, factory, smtp_server):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", email="acque@example.it")
    point = factory.supply_point(customer, "gas")
    today = models.rome_now().date()
    models.Invoice.create(number="2026/0077", supply_point=point, date=today,
                          period_start=today - datetime.timedelta(days=60), period_end=today,
                          amount="148.20", due_date=today + datetime.timedelta(days=20))
    stranger = factory.customer(code="999888", name="ALTRO CLIENTE")
    models.Invoice.create(number="2026/0999", supply_point=factory.supply_point(stranger, "gas"),
                          date=today, period_start=today - datetime.timedelta(days=60),
                          period_end=today, amount="99.00", due_date=today)

    page.goto(live_server.url + "/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_text("Benvenuto").first).to_be_visible()
    page.wait_for_load_state("load")
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Ticket").click()
    page.get_by_role("link", name="Nuova richiesta").click()
    page.get_by_role("link", name="Richiesta di rettifica di fatturazione").click()
    invoice = page.get_by_label("Fattura")
    expect(invoice.locator("option")).to_have_count(2)  # the prompt and the customer's one
    # Sent without an invoice: the message beside the field, the text kept.
    page.get_by_label("Messaggio").fill("Consumo stimato 4417003, ma ho comunicato la lettura.")
    page.get_by_role("button", name="Invia").click()
    expect(page.get_by_text("Scegli una delle tue fatture.")).to_be_visible()
    expect(page.get_by_label("Messaggio")).to_have_value("Consumo stimato 4417003, ma ho comunicato la lettura.")
    invoice.select_option(value=str(models.Invoice.get(models.Invoice.number == "2026/0077").id))
    page.get_by_role("button", name="Invia").click()
    expect(page.get_by_text("Richiesta registrata con il codice pratica").first).to_be_visible()

    ticket = models.Ticket.get()
    due = ticket.due_on.strftime("%d/%m/%Y")
    summary = page.locator(".ticket-summary")
    expect(summary).to_contain_text(ticket.code)
    expect(summary).to_contain_text("Richiesta di rettifica di fatturazione")
    expect(summary).to_contain_text(due)
    expect(summary).to_contain_text("2026/0077")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Scarica la ricevuta")).click()
    assert download.value.suggested_filename == f"ricevuta-{ticket.code}.pdf"
    with open(download.value.path(), "rb") as pdf:
        content = pdf.read()
    assert content.startswith(b"%PDF") and ticket.code.encode() in content

    assert smtp_server.wait_for(2)
    receipt = [index for index, (to, message) in enumerate(smtp_server.messages)
               if message["Subject"] == f"Ricevuta della pratica {ticket.code}"]
    assert len(receipt) == 1 and smtp_server.messages[receipt[0]][0] == ["acque@example.it"]
    text = smtp_server.text_of(receipt[0])
    assert f"Risposta entro il: {due}" in text and "Fattura: 2026/0077" in text
    page.get_by_role("link", name="‹ Tutti i ticket").click()
    expect(page.locator("#ticket-list")).to_contain_text(ticket.code)
    expect(page.locator("#ticket-list")).to_contain_text(due)
    assert console_errors == []


def test_the_case_list_fits_at_1024_px_and_stacks_on_a_phone_and_errors_are_red(
        live_server, page, console_errors, factory):
    from portal import tickets as rules
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", email="acque@example.it")
    point = factory.supply_point(customer, "gas", has_corrector=True)
    now = models.utcnow()
    for kind, days, answered, subject in (
            ("indirizzo", 2, None, "Nuovo indirizzo per le bollette della sede di Collesalvetti"),
            ("rettifica", 5, None, "Consumi stimati troppo alti nella bolletta di marzo"),
            ("reclamo", 40, None, "Fattura addebitata due volte 7310051"),
            ("reclamo", 80, 40, "Bolletta non recapitata 7310052")):
        received = now - datetime.timedelta(days=days)
        models.Ticket.create(customer=customer, supply_point=point, kind=kind, category="Altro",
                             subject=subject, received_at=received,
                             answered_at=answered and now - datetime.timedelta(days=answered),
                             due_on=rules.due_date(kind, received), code=f"CP-2026-00{days:04d}")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(live_server.url + "/login")
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_text("Benvenuto").first).to_be_visible()
    page.goto(live_server.url + "/ticket")
    wrap = page.locator("#ticket-list .table-wrap")
    scroll, width = wrap.evaluate("wrap => [wrap.scrollWidth, wrap.clientWidth]")
    assert scroll <= width, f"the list scrolls sideways at 1024 px: {scroll} > {width}"
    late = page.get_by_role("row").filter(has_text="7310051")
    expect(late).to_contain_text("Risposta in ritardo")
    expect(page.get_by_role("row").filter(has_text="7310052")).to_contain_text("Indennizzo di 30,00 €")
    # On a phone each case is a card: no header row shown, nothing wider than the screen.
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    expect(page.locator("#ticket-list thead")).to_have_css("position", "absolute")
    expect(page.locator("#ticket-list tbody tr").first).to_have_css("display", "block")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # A form sent with errors: every field in error has the error colour as its border.
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(live_server.url + "/ticket/nuovo?tipo=voltura")
    page.get_by_role("button", name="Invia").click()
    expect(page.locator(".field--error").first).to_be_visible()
    colours = page.locator(".field--error").evaluate_all(
        "fields => fields.map(field => [getComputedStyle(field.querySelector('input, select, textarea'))"
        ".borderTopColor, getComputedStyle(field.querySelector('.error')).color])")
    assert len(colours) >= 3
    assert all(border == error for border, error in colours), colours
    assert console_errors == []


def test_an_operator_picks_the_registers_range_and_downloads_a_receipt(live_server, browser, factory):
    from portal import tickets as rules
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", email="acque@example.it")
    factory.supply_point(customer, "gas")
    backoffice.create_operator("laura", OPERATOR_PASSWORD, name="Laura Bianchi")
    received = datetime.datetime(2026, 3, 10, 9)
    ticket = models.Ticket.create(customer=customer, kind="reclamo", category="Altro",
                                  subject="Reclamo di marzo", received_at=received,
                                  due_on=rules.due_date("reclamo", received), code="CP-2026-000001")
    models.TicketMessage.create(ticket=ticket, body="Testo")
    staff, errors = operator_page(browser, live_server)
    staff.get_by_text("Registro pratiche (CSV)").click()
    staff.get_by_label("Ricevute dal").fill("2026-03-31")
    staff.get_by_label("al", exact=True).fill("2026-03-01")
    staff.get_by_role("button", name="Scarica il registro").click()
    expect(staff.get_by_text("La data «al» non può precedere la data «dal».")).to_be_visible()
    field = staff.get_by_label("al", exact=True)
    expect(field).to_have_value("2026-03-01")
    assert field.evaluate("input => getComputedStyle(input).borderTopColor") == staff.locator(
        ".error").evaluate("error => getComputedStyle(error).color")
    field.fill("2026-03-31")
    staff.get_by_label("Ricevute dal").fill("2026-03-01")
    with staff.expect_download() as download:
        staff.get_by_role("button", name="Scarica il registro").click()
    assert download.value.suggested_filename == "registro-pratiche-dal-2026-03-01-al-2026-03-31.csv"
    with open(download.value.path(), encoding="utf-8-sig") as register:
        assert "CP-2026-000001;reclamo;654321" in register.read()
    staff.goto(live_server.url + f"/operatore/ticket/{ticket.id}")
    with staff.expect_download() as download:
        staff.get_by_role("link", name=re.compile("Scarica la ricevuta")).click()
    assert download.value.suggested_filename == "ricevuta-CP-2026-000001.pdf"
    # The refused range's page is a 422, which Chromium logs; nothing else.
    assert [error for error in errors if "status of 422" not in error] == []
