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
