"""Paying bills in a real browser: open an unpaid invoice, copy the causale, start a
direct debit and see it pending; the QR codes load as images under the CSP."""
import datetime
import io
import re
from decimal import Decimal

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

import models
from test_pages_browser import customer_with_two_points, login

pytestmark = pytest.mark.browser


def test_unpaid_invoice_copy_causale_then_direct_debit_pending(page, live_server, factory,
                                                                 console_errors):
    customer, gas, _electricity = customer_with_two_points(factory)
    invoice = models.Invoice.create(
        number="FT2026-7300001", supply_point=gas, date=datetime.date(2026, 1, 7),
        period_start=datetime.date(2025, 11, 1), period_end=datetime.date(2025, 12, 31),
        amount=Decimal("187.40"), due_date=datetime.date(2099, 1, 1), paid=False,
        pagopa_notice="302000100000009424", pagopa_creditor="00123450017")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=live_server.url)
    login(page, live_server.url, "654321")
    page.goto(f"{live_server.url}/fatture?punto={gas.code}")

    page.get_by_role("link", name="Come pagare la fattura n. FT2026-7300001").click()
    # portal.js names the supply point in the address once the page settles.
    expect(page).to_have_url(re.compile(rf"/fatture/{invoice.id}(\?punto={gas.code})?$"))
    expect(page.get_by_role("heading", name="Fattura n. FT2026-7300001")).to_be_visible()
    causale = "Fattura FT2026-7300001 cliente 654321"
    expect(page.locator("#pay-causale")).to_have_text(causale)
    # Both QR codes are drawn by the portal and load under the CSP.
    for name in ("Codice QR del bonifico", "Codice QR dell'avviso pagoPA"):
        image = page.get_by_role("img", name=re.compile(name))
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")

    copy = page.get_by_role("button", name="Copia Causale")
    copy.click()
    expect(copy).to_have_text("Copiato")
    assert page.evaluate("navigator.clipboard.readText()") == causale
    # Screen readers hear it from the page's one polite live region.
    expect(page.locator("#announcer")).to_have_text(f"Copiato: {causale}")
    expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    # The amount goes to the clipboard as a bank's form takes it.
    page.get_by_role("button", name="Copia Importo").click()
    expect(page.locator("#announcer")).to_have_text("Copiato: 187,40")
    assert page.evaluate("navigator.clipboard.readText()") == "187,40"

    page.get_by_role("link", name="Attiva la domiciliazione bancaria").click()
    expect(page.get_by_role("heading", name="Domiciliazione bancaria", exact=True)).to_be_visible()
    page.get_by_label("IBAN del conto da addebitare").fill("IT40S0542811101000000123456")
    page.get_by_label("Intestatario del conto").fill("ACQUE CHIARE S.R.L.")
    page.get_by_label("Ho letto il testo del mandato e lo sottoscrivo").check()
    page.get_by_role("button", name="Sottoscrivi il mandato").click()
    # A wrong CIN is refused beside the field, keeping what was typed.
    expect(page.get_by_text("carattere di controllo CIN")).to_be_visible()
    expect(page.get_by_label("IBAN del conto da addebitare")).to_have_value(
        "IT40S0542811101000000123456")

    page.get_by_label("IBAN del conto da addebitare").fill("IT60 X054 2811 1010 0000 0123 456")
    page.get_by_label("Ho letto il testo del mandato e lo sottoscrivo").check()
    page.get_by_role("button", name="Sottoscrivi il mandato").click()
    expect(page.locator("#mandate-pending")).to_contain_text(
        "Richiesta di domiciliazione sul conto IT..3456 in attesa di conferma")
    expect(page.get_by_role("cell", name="In attesa")).to_be_visible()
    assert "0542811101" not in page.content()
    mandate = models.DirectDebitMandate.get()
    assert (mandate.status, mandate.iban) == ("In attesa", "IT60X0542811101000000123456")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Mandato in PDF")).click()
    assert download.value.suggested_filename == f"Mandato-SEPA-{mandate.reference}.pdf"
    assert not console_errors


def test_phone_shows_how_to_pay_without_sideways_scrolling(page, live_server, factory):
    customer, gas, _electricity = customer_with_two_points(factory)
    invoice = models.Invoice.create(
        number="FT2026-7300002", supply_point=gas, date=datetime.date(2026, 1, 7),
        period_start=datetime.date(2025, 11, 1), period_end=datetime.date(2025, 12, 31),
        amount=Decimal("87.10"), due_date=datetime.date(2099, 1, 1), paid=False,
        pagopa_notice="302000100000009424", pagopa_creditor="00123450017",
        payment_link="https://pagamenti.example.it/paga/FT2026-7300002")
    page.set_viewport_size({"width": 360, "height": 740})
    login(page, live_server.url, "654321")
    for url in (f"/fatture/{invoice.id}", f"/pagamenti/domiciliazione?punto={gas.code}",
                f"/pagamenti?scelta=1&fattura={invoice.id}"):
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, url

    # Both QR codes stay big enough to scan from the phone's own screen shot or another
    # phone: at least 200 CSS px, and what Chromium paints decodes to the payload.
    page.goto(f"{live_server.url}/fatture/{invoice.id}")
    page.wait_for_load_state("networkidle")
    texts = []
    for image in page.locator(".pay-qr img").all():
        box = image.bounding_box()
        assert box["width"] >= 200 and box["height"] >= 200, box
        painted = Image.open(io.BytesIO(image.screenshot()))
        texts += [result.text for result in zxingcpp.read_barcodes(painted)]
    assert "PAGOPA|002|302000100000009424|00123450017|8710" in texts
    epc = next(text for text in texts if text.startswith("BCD\n"))
    assert epc.split("\n")[7] == "EUR87.1"  # EPC069-12: no trailing zeros needed
    assert epc.split("\n")[-1] == "Fattura FT2026-7300002 cliente 654321"


def test_javascript_off_pays_several_invoices_reports_one_and_signs_a_mandate(
        browser, live_server, factory, tmp_path):
    customer, gas, _electricity = customer_with_two_points(factory)
    invoices = [models.Invoice.create(
        number=f"FT2026-730001{index}", supply_point=gas, date=datetime.date(2026, 1, index),
        period_start=datetime.date(2025, 11, 1), period_end=datetime.date(2025, 12, 31),
        amount=Decimal(amount), due_date=datetime.date(2099, 1, 1), paid=False)
        for index, amount in ((1, "10.00"), (2, "20.50"))]
    context = browser.new_context(java_script_enabled=False, locale="it-IT")
    page = context.new_page()
    login(page, live_server.url, "654321")

    page.goto(f"{live_server.url}/pagamenti?punto={gas.code}")
    for invoice in invoices:
        page.get_by_label(re.compile(f"n. {invoice.number}")).check()
    page.get_by_role("button", name="Calcola il bonifico").click()
    expect(page.get_by_role("heading", name="Un bonifico per 2 fatture")).to_be_visible()
    expect(page.locator("#pay-importo")).to_have_text("30,50")
    expect(page.locator("#pay-causale")).to_have_text(
        "Fattura FT2026-7300011, FT2026-7300012 cliente 654321")
    expect(page.get_by_role("button", name="Copia Causale")).to_be_hidden()

    receipt = tmp_path / "ricevuta.pdf"
    receipt.write_bytes(b"%PDF-1.4\n% ricevuta\n%%EOF\n")
    page.goto(f"{live_server.url}/pagamenti/fatture/{invoices[0].id}/segnala")
    page.get_by_label("Ricevuta del pagamento").set_input_files(str(receipt))
    page.get_by_role("button", name="Invia la ricevuta").click()
    expect(page.get_by_text(re.compile("Pagamento segnalato il"))).to_be_visible()

    page.goto(f"{live_server.url}/pagamenti/domiciliazione?punto={gas.code}")
    page.get_by_label("IBAN del conto da addebitare").fill("IT60X0542811101000000123456")
    page.get_by_label("Intestatario del conto").fill("ACQUE CHIARE S.R.L.")
    page.get_by_label("Ho letto il testo del mandato e lo sottoscrivo").check()
    page.get_by_role("button", name="Sottoscrivi il mandato").click()
    expect(page.locator("#mandate-pending")).to_contain_text("IT..3456")
    assert models.PaymentReport.select().count() == 1
    assert models.DirectDebitMandate.select().count() == 1
    context.close()


def test_operator_marks_a_reported_payment_verified(page, live_server, factory, console_errors):
    from portal import backoffice
    from test_backoffice import OPERATOR_PASSWORD
    customer, gas, _electricity = customer_with_two_points(factory)
    invoice = models.Invoice.create(
        number="FT2026-7300021", supply_point=gas, date=datetime.date(2026, 1, 7),
        period_start=datetime.date(2025, 11, 1), period_end=datetime.date(2025, 12, 31),
        amount=Decimal("64.00"), due_date=datetime.date(2099, 1, 1), paid=False)
    report = models.PaymentReport.create(invoice=invoice, customer=customer,
                                         file_path="payment-reports/r.pdf", file_name="r.pdf",
                                         content_type="application/pdf")
    backoffice.create_operator("laura", OPERATOR_PASSWORD, name="Laura Verdi")
    page.goto(f"{live_server.url}/operatore/login")
    page.get_by_label("Nome utente").fill("laura")
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Accedi").click()
    expect(page.get_by_role("heading", name="Ticket", exact=True)).to_be_visible()
    page.wait_for_load_state("load")

    page.get_by_role("link", name="Pagamenti segnalati").click()
    expect(page.get_by_role("cell", name="FT2026-7300021", exact=True)).to_be_visible()
    page.get_by_label("Nota (facoltativa) sul pagamento della fattura FT2026-7300021").fill(
        "Accredito del 12/01 visto in banca")
    page.get_by_role("button", name="Segna come verificato il pagamento della fattura "
                                    "FT2026-7300021").click()
    expect(page.get_by_text("Pagamento segnalato per la fattura FT2026-7300021 segnato come "
                            "verificato.")).to_be_visible()
    expect(page.get_by_text("Nessun pagamento segnalato in attesa.")).to_be_visible()
    page.get_by_role("link", name="Verificati").click()
    expect(page).to_have_url(re.compile(r"/operatore/pagamenti-segnalati\?stato=verificati$"))
    expect(page.get_by_role("cell", name="Accredito del 12/01 visto in banca")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("Laura Verdi"))).to_be_visible()
    assert models.PaymentReport.get_by_id(report.id).handled_by.username == "laura"
    assert not console_errors
