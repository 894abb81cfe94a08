"""Paying bills: how to pay (transfer, EPC and pagoPA QR codes, payment links, direct
debit), direct-debit mandates through export and import, payment reports and the
back-office queue, and nobody else's invoice ever payable or reportable."""
import csv
import datetime
import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from stdnum import iban as stdnum_iban

import models
from portal import backoffice, payments
from test_exchange import import_ok, write_csv
from test_holdings import handover  # noqa: F401 (fixture)
from test_invoices import PDF_BYTES, add_invoice, gas_point

HTMX = {"HX-Request": "true"}
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# Real, valid Italian IBANs: the well-known example account, and two built on real
# ABI/CAB codes with their CIN and check digits.
VALID_IBANS = ["IT60X0542811101000000123456", "IT25O0306909606100000012345",
               "IT22L0760101600000012345678"]
# Right mod-97 check digits over a wrong CIN: the widely copied "IT40S..." example, and
# the example account with its CIN changed to Y and check digits recomputed.
WRONG_CIN = ["IT40S0542811101000000123456", "IT64Y0542811101000000123456"]


def decoded(qr):
    """The text a phone camera reads from a segno QR code."""
    out = io.BytesIO()
    qr.save(out, kind="png", scale=5)
    out.seek(0)
    results = zxingcpp.read_barcodes(Image.open(out))
    assert len(results) == 1
    return results[0].text


def unpaid(point, number, amount="100.00", **fields):
    invoice = add_invoice(point, number, datetime.date(2026, 1, 7), amount=amount, paid=False,
                          due_date=datetime.date(2099, 1, 1))
    if fields:
        models.Invoice.update(**fields).where(models.Invoice.id == invoice.id).execute()
    return models.Invoice.get_by_id(invoice.id)


# --- IBAN ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", VALID_IBANS + ["it60 x054 2811 1010 0000 0123 456"])
def test_valid_italian_ibans_are_accepted(text):
    assert payments.clean_iban(text) == text.replace(" ", "").upper()


@pytest.mark.parametrize("text", WRONG_CIN)
def test_a_wrong_cin_is_refused_although_mod_97_holds(text):
    # python-stdnum alone accepts them: the CIN check is ours.
    assert stdnum_iban.is_valid(text)
    with pytest.raises(payments.IbanError, match="CIN"):
        payments.clean_iban(text)


@pytest.mark.parametrize("text", ["IT61X0542811101000000123456", "IT60X05428111010000001234",
                                  "XX60X0542811101000000123456", "", "IT60X054281110100000012345À"])
def test_malformed_ibans_are_refused(text):
    with pytest.raises(payments.IbanError):
        payments.clean_iban(text)


def test_masked_iban_shows_country_and_last_four():
    assert payments.mask_iban("IT60X0542811101000000123456") == "IT..3456"


# --- QR codes --------------------------------------------------------------------------

def test_epc_qr_decodes_to_the_transfer_of_the_invoice(app, client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-1234567", amount="187.40")
    with app.test_request_context():
        transfer = payments.Transfer([invoice], logged_in)
        lines = decoded(transfer.epc_qr()).split("\n")
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert lines[5] == "Energia Colline Toscane S.p.A."
    assert lines[6] == "IT60X0542811101000000123456"
    assert lines[7] == "EUR187.4"
    assert lines[-1] == "Fattura FT2026-1234567 cliente 654321"

    page = client.get(f"/fatture/{invoice.id}")
    assert "Fattura FT2026-1234567 cliente 654321" in page.text
    qr_url = re.search(r'<img src="(/pagamenti/bonifico\.svg[^"]+)"', page.text).group(1)
    image = client.get(qr_url.replace("&amp;", "&"))
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert image.data.startswith(b"<?xml") and b"<svg" in image.data


def test_pagopa_qr_decodes_to_the_published_format(app, client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-2345678", amount="1532.09",
                     pagopa_notice="302000100000009424", pagopa_creditor="00123450017")
    with app.test_request_context():
        qr = payments.pagopa_qr(invoice)
        text = decoded(qr)
    # PagoPA, Avviso di pagamento, Allegato 2 > Codice QR: five fields in this order,
    # 6 + 3 + 18 + 11 characters, the amount in cents with no separator; version 4, M.
    assert text == "PAGOPA|002|302000100000009424|00123450017|153209"
    code, version, notice, creditor, amount = text.split("|")
    assert (len(code), len(version), len(notice), len(creditor)) == (6, 3, 18, 11)
    assert (qr.version, qr.error, qr.symbol_size(border=0)) == (4, "M", (33, 33))
    page = client.get(f"/fatture/{invoice.id}")
    assert "302000100000009424" in page.text and "00123450017" in page.text
    image = client.get(f"/pagamenti/fatture/{invoice.id}/pagopa.svg")
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"


@pytest.mark.parametrize("amount, field", [
    ("0.05", "05"),               # at least two characters: zero-padded
    ("0.50", "50"),
    ("7.00", "700"),
    ("999999999.99", "99999999999"),  # eleven characters, the most the format holds
])
def test_pagopa_amount_is_cents_of_two_to_eleven_digits(app, logged_in, amount, field):
    invoice = unpaid(gas_point(logged_in), "FT2026-2345679", amount=amount,
                     pagopa_notice="002000100000009424", pagopa_creditor="00123450017")
    with app.test_request_context():
        assert decoded(payments.pagopa_qr(invoice)).rsplit("|", 1)[1] == field


@pytest.mark.parametrize("amount", ["0.00", "-12.50"])
def test_no_pagopa_qr_for_nothing_to_pay(client, logged_in, amount):
    invoice = unpaid(gas_point(logged_in), "FT2026-2345680", amount=amount,
                     pagopa_notice="302000100000009424", pagopa_creditor="00123450017")
    assert "Avviso pagoPA" not in client.get(f"/fatture/{invoice.id}").text
    assert client.get(f"/pagamenti/fatture/{invoice.id}/pagopa.svg").status_code == 404


@pytest.mark.parametrize("notice, accepted", [
    ("302000100000009424", True),
    ("3020 0010 0000 0094 24", True),   # as printed: groups of four
    ("002000100000009424", True),
    ("102000100000009424", True),
    ("402000100000009424", False),      # aux digit is 0 to 3
    ("30200010000000942", False),       # 17 digits
    ("3020001000000094245", False),     # 19 digits
    ("30200010000000942A", False),
])
def test_invoice_import_checks_the_notice_code(runner, logged_in, tmp_path, notice, accepted):
    from test_exchange import run_import
    point = gas_point(logged_in)
    path = write_csv(tmp_path / "invoices.csv",
                     ["number", "supply_point_code", "date", "period_start", "period_end",
                      "amount", "due_date", "paid", "pagopa_notice", "pagopa_creditor"],
                     [["FT2026-2345681", point.code, "2026-01-07", "2025-12-01", "2025-12-31",
                       "55,00", "2099-01-01", "0", notice, "00123450017"]])
    result = run_import(runner, "invoices", path)
    stored = models.Invoice.get_or_none(models.Invoice.number == "FT2026-2345681")
    if accepted:
        assert result.exit_code == 0, result.output
        assert stored.pagopa_notice == notice.replace(" ", "")
    else:
        assert result.exit_code == 1 and stored is None
        assert "expected 18 digits starting with 0, 1, 2 or 3" in result.output


def test_invoice_without_pagopa_notice_has_no_pagopa_qr(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-3456789")
    assert "Avviso pagoPA" not in client.get(f"/fatture/{invoice.id}").text
    assert client.get(f"/pagamenti/fatture/{invoice.id}/pagopa.svg").status_code == 404


# --- Paga online ----------------------------------------------------------------------

@pytest.mark.parametrize("link, shown", [
    ("https://pagamenti.example.it/paga/FT1", True),
    ("https://PAGAMENTI.example.it/paga/FT1", True),
    ("http://pagamenti.example.it/paga/FT1", False),
    ("https://evil.example.com/paga/FT1", False),
    ("https://pagamenti.example.it.evil.example.com/x", False),
    ("https://pagamenti.example.it@evil.example.com/x", False),
    ("https://user:pw@pagamenti.example.it/x", False),
    ("javascript:alert(1)", False),
])
def test_payment_link_only_for_https_hosts_of_the_allow_list(client, logged_in, link, shown):
    invoice = unpaid(gas_point(logged_in), "FT2026-4567890", payment_link=link)
    page = client.get(f"/fatture/{invoice.id}").text
    assert ("Paga online" in page) is shown
    assert (f'href="{link}"' in page) is shown


# --- Come pagare in the list and the detail ----------------------------------------------

def test_list_row_offers_how_to_pay_for_unpaid_invoices_only(client, logged_in):
    point = gas_point(logged_in)
    add_invoice(point, "FT2025-5678901", datetime.date(2025, 3, 5), paid=True)
    invoice = unpaid(point, "FT2026-5678902")
    page = client.get("/fatture").text
    assert page.count(">Come pagare<") == 1
    assert f'href="/fatture/{invoice.id}"' in page


def test_direct_debit_invoice_says_so_instead_of_how_to_pay(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-6789012", direct_debit_iban="IT..1234")
    listed = client.get("/fatture").text
    assert "addebito diretto sul conto IT..1234 alla scadenza" in listed
    detail = client.get(f"/fatture/{invoice.id}").text
    assert "addebito diretto sul conto IT..1234 alla scadenza" in detail
    assert "Bonifico bancario" not in detail


def test_paid_invoice_shows_no_way_to_pay(client, logged_in):
    invoice = add_invoice(gas_point(logged_in), "FT2025-7890123", datetime.date(2025, 3, 5))
    page = client.get(f"/fatture/{invoice.id}")
    assert page.status_code == 200 and "Pagata" in page.text
    assert "Come pagare" not in page.text


def test_amount_to_copy_follows_the_page_language(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-8901235", amount="1234.50",
                     pagopa_notice="302000100000009424", pagopa_creditor="00123450017")
    italian = client.get(f"/fatture/{invoice.id}").text
    assert 'id="pay-importo">1234,50</span> €' in italian
    english = client.get(f"/fatture/{invoice.id}", headers={"Accept-Language": "en-GB,en"}).text
    assert '€<span class="pay-value" id="pay-importo">1234.50</span>' in english
    assert "Scan the code with your banking app or the IO app" in english


def test_detail_is_a_fragment_for_htmx(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-8901234")
    fragment = client.get(f"/fatture/{invoice.id}", headers=HTMX)
    assert "<html" not in fragment.text and "Come pagare" in fragment.text


# --- Several invoices at once --------------------------------------------------------------

def test_several_invoices_make_one_transfer(app, client, logged_in):
    point = gas_point(logged_in)
    first = unpaid(point, "FT2026-0000101", amount="10.50")
    second = unpaid(point, "FT2026-0000102", amount="20.25")
    unpaid(point, "FT2026-0000103", amount="99.00")
    page = client.get(f"/pagamenti?punto={point.code}&scelta=1&fattura={first.id}&fattura={second.id}")
    assert page.status_code == 200
    assert "Fattura FT2026-0000101, FT2026-0000102 cliente 654321" in page.text
    # The amount copies as a bank's form takes it: no currency sign, no thousands dot.
    assert 'id="pay-importo">30,75</span> €' in page.text
    with app.test_request_context():
        lines = decoded(payments.Transfer([first, second], logged_in).epc_qr()).split("\n")
    assert lines[7] == "EUR30.75"
    assert lines[-1] == "Fattura FT2026-0000101, FT2026-0000102 cliente 654321"
    qr = client.get(f"/pagamenti/bonifico.svg?punto={point.code}&fattura={first.id}&fattura={second.id}")
    assert qr.status_code == 200


def test_choosing_nothing_says_so(client, logged_in):
    unpaid(gas_point(logged_in), "FT2026-0000201")
    page = client.get("/pagamenti?scelta=1")
    assert "Scegli almeno una fattura da pagare." in page.text


# --- Another customer's invoice: never payable or reportable ------------------------------

@pytest.fixture
def strangers_invoice(other_customer):
    point = models.SupplyPoint.get(models.SupplyPoint.code == "PR999001")
    return unpaid(point, "FT2026-9999991", pagopa_notice="302000100000009424",
                  pagopa_creditor="00123450017")


@pytest.mark.parametrize("method, url", [
    ("get", "/fatture/{id}"),
    ("get", "/pagamenti/fatture/{id}/pagopa.svg"),
    ("get", "/pagamenti/fatture/{id}/segnala"),
    ("post", "/pagamenti/fatture/{id}/segnala"),
    ("get", "/pagamenti/bonifico.svg?fattura={id}"),
    ("get", "/pagamenti?fattura={id}"),
    ("get", "/pagamenti/bonifico.svg?punto=PR999001&fattura={id}"),
])
def test_another_customers_invoice_is_404(client, logged_in, strangers_invoice, method, url):
    response = getattr(client, method)(url.format(id=strangers_invoice.id),
                                       data={"receipt": (io.BytesIO(PDF_BYTES), "r.pdf")}
                                       if method == "post" else None)
    assert response.status_code == 404
    assert "FT2026-9999991" not in response.text
    assert models.PaymentReport.select().count() == 0


def test_another_customers_mandate_is_404(client, logged_in, other_customer):
    point = models.SupplyPoint.get(models.SupplyPoint.code == "PR999001")
    mandate = models.DirectDebitMandate.create(
        reference="ACM-7000001", customer=other_customer, supply_point=point,
        iban=VALID_IBANS[1], account_holder="ALTRO CLIENTE SEGRETO", status="Attivo")
    assert client.get(f"/pagamenti/domiciliazione/{mandate.id}/mandato.pdf").status_code == 404
    assert client.post(f"/pagamenti/domiciliazione/{mandate.id}/revoca").status_code == 404
    assert client.get("/pagamenti/domiciliazione?punto=PR999001").status_code == 404
    assert models.DirectDebitMandate.get_by_id(mandate.id).status == "Attivo"


def test_paid_invoice_cannot_be_reported(client, logged_in):
    invoice = add_invoice(gas_point(logged_in), "FT2025-7000002", datetime.date(2025, 3, 5))
    assert client.get(f"/pagamenti/fatture/{invoice.id}/segnala").status_code == 404


def test_pages_need_a_login(client):
    for url in ("/pagamenti", "/pagamenti/domiciliazione", "/fatture/1",
                "/pagamenti/fatture/1/segnala"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Segnala pagamento ------------------------------------------------------------------

def report(client, invoice, data=PDF_BYTES, name="ricevuta.pdf", token="tok-" + "a" * 20):
    form = {"submission_token": token}
    if data is not None:
        form["receipt"] = (io.BytesIO(data), name)
    return client.post(f"/pagamenti/fatture/{invoice.id}/segnala", data=form,
                       content_type="multipart/form-data")


def test_reported_payment_shows_until_an_import_says_paid(app, client, logged_in, runner,
                                                         tmp_path):
    invoice = unpaid(gas_point(logged_in), "FT2026-7000003", amount="55.00")
    response = report(client, invoice)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/fatture/{invoice.id}")
    stored = models.PaymentReport.get()
    assert stored.invoice_id == invoice.id and stored.content_type == "application/pdf"
    assert (Path(app.config["FILES_DIR"]) / stored.file_path).read_bytes() == PDF_BYTES
    today = datetime.date.today().strftime("%d/%m/%Y")
    assert f"pagamento segnalato il {today}" in client.get("/fatture").text
    assert "Pagamento segnalato il" in client.get(f"/fatture/{invoice.id}").text

    # The billing system's next import says paid: the invoice is paid, the queue empty.
    point = gas_point(logged_in)
    write_csv(tmp_path / "invoices.csv",
              ["number", "supply_point_code", "date", "period_start", "period_end", "amount",
               "due_date", "paid"],
              [[invoice.number, point.code, "2026-01-07", str(invoice.period_start),
                str(invoice.period_end), "55.00", "2099-01-01", "1"]])
    import_ok(runner, "invoices", tmp_path / "invoices.csv")
    listed = client.get("/fatture").text
    assert "pagamento segnalato" not in listed and "Pagata" in listed
    with app.app_context():
        assert list(payments.open_reports()) == []


def test_a_repeated_report_is_stored_once(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-7000004")
    first = report(client, invoice)
    second = report(client, invoice)
    assert first.status_code == second.status_code == 303
    assert models.PaymentReport.select().count() == 1


@pytest.mark.parametrize("data, name, message", [
    (b"MZ\x90\x00 not a receipt", "ricevuta.pdf", "Sono accettati solo file PDF, JPEG o PNG"),
    (b"", "vuoto.pdf", "Il file scelto è vuoto."),
    (None, "", "Scegli il file della ricevuta."),
])
def test_a_bad_receipt_is_refused_beside_the_field(client, logged_in, data, name, message):
    invoice = unpaid(gas_point(logged_in), "FT2026-7000005")
    response = report(client, invoice, data=data, name=name)
    assert response.status_code == 422
    assert message in response.text
    assert models.PaymentReport.select().count() == 0


def test_back_office_queue_lists_reports_and_serves_the_receipt(app, client, logged_in, factory):
    from test_backoffice import OPERATOR_PASSWORD, operator_login
    invoice = unpaid(gas_point(logged_in), "FT2026-7000006", amount="42.00")
    report(client, invoice, data=PNG_BYTES, name="bonifico.png")
    client.post("/logout")
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    assert operator_login(client, "mario.rossi", OPERATOR_PASSWORD).status_code == 303
    queue = client.get("/operatore/pagamenti-segnalati")
    assert queue.status_code == 200
    assert "FT2026-7000006" in queue.text and "bonifico.png" in queue.text
    stored = models.PaymentReport.get()
    receipt = client.get(f"/operatore/pagamenti-segnalati/{stored.id}/ricevuta")
    assert receipt.status_code == 200 and receipt.data == PNG_BYTES
    assert receipt.mimetype == "image/png"
    assert "attachment" in receipt.headers["Content-Disposition"]
    assert models.AuditLog.select().where(
        models.AuditLog.event == "operator_view_payment_report").count() == 1


def operator_client(client):
    from test_backoffice import OPERATOR_PASSWORD, operator_login
    client.post("/logout")
    if models.Operator.get_or_none(models.Operator.username == "mario.rossi") is None:
        backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    assert operator_login(client, "mario.rossi", OPERATOR_PASSWORD).status_code == 303
    return client


def test_operator_verifies_a_report_which_leaves_the_queue(app, client, logged_in, auth):
    invoice = unpaid(gas_point(logged_in), "FT2026-7000007", amount="42.00")
    report(client, invoice, data=PNG_BYTES, name="bonifico.png")
    stored = models.PaymentReport.get()
    operator_client(client)
    queue = client.get("/operatore/pagamenti-segnalati").text
    assert "FT2026-7000007" in queue and 'for="note-%d"' % stored.id in queue

    response = client.post(f"/operatore/pagamenti-segnalati/{stored.id}/verifica",
                           data={"note": "  Accredito visto sul conto il 12/01  "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/operatore/pagamenti-segnalati"
    stored = models.PaymentReport.get_by_id(stored.id)
    assert stored.handled_at is not None and stored.handled_note == "Accredito visto sul conto il 12/01"
    assert stored.handled_by.username == "mario.rossi"
    queue = client.get("/operatore/pagamenti-segnalati").text
    assert ("Pagamento segnalato per la fattura FT2026-7000007 segnato come verificato."
            in queue)
    assert "FT2026-7000007" not in queue.split("</h1>", 1)[1].replace(
        "Pagamento segnalato per la fattura FT2026-7000007", "")
    assert "Nessun pagamento segnalato in attesa." in queue
    handled = client.get("/operatore/pagamenti-segnalati?stato=verificati").text
    assert "FT2026-7000007" in handled and "Accredito visto sul conto il 12/01" in handled
    assert "Mario Rossi" in handled and 'aria-current="page">Verificati' in handled
    audit = models.AuditLog.get(models.AuditLog.event == "operator_verify_payment_report")
    assert audit.customer_id == logged_in.id and audit.operator_id == stored.handled_by_id
    assert f"payment report {stored.id}: Accredito visto" in audit.detail

    # A second click (another tab) changes nothing and says so.
    again = client.post(f"/operatore/pagamenti-segnalati/{stored.id}/verifica",
                        data={"note": "altro"}, headers=HTMX)
    assert again.headers["HX-Redirect"] == "/operatore/pagamenti-segnalati"
    assert "era già stata verificata" in client.get("/operatore/pagamenti-segnalati").text
    assert models.PaymentReport.get_by_id(stored.id).handled_note.startswith("Accredito")

    # The customer still sees the report until the billing system says paid.
    client.post("/operatore/logout")
    assert auth.login(logged_in.code).status_code == 303
    assert models.Invoice.get_by_id(invoice.id).paid is False
    today = datetime.date.today().strftime("%d/%m/%Y")
    assert f"pagamento segnalato il {today}" in client.get("/fatture").text
    assert "Pagamento segnalato il" in client.get(f"/fatture/{invoice.id}").text


def test_a_verification_note_too_long_is_refused_beside_the_field(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-7000008")
    report(client, invoice)
    stored = models.PaymentReport.get()
    operator_client(client)
    note = "x" * 5001
    for headers in ({}, HTMX):
        response = client.post(f"/operatore/pagamenti-segnalati/{stored.id}/verifica",
                               data={"note": note}, headers=headers)
        assert response.status_code == 422
        assert "La nota può avere al massimo 5000 caratteri." in response.text
        assert f'aria-describedby="note-{stored.id}-error">{note}</textarea>' in response.text
        assert ("<html" in response.text) is not bool(headers)
    assert models.PaymentReport.get_by_id(stored.id).handled_at is None


def test_verify_needs_an_operator_and_an_existing_report(client, logged_in):
    invoice = unpaid(gas_point(logged_in), "FT2026-7000009")
    report(client, invoice)
    stored = models.PaymentReport.get()
    # A customer cannot verify, not even their own report.
    assert client.post(f"/operatore/pagamenti-segnalati/{stored.id}/verifica").status_code == 404
    assert client.get("/operatore/pagamenti-segnalati?stato=verificati").status_code == 404
    operator_client(client)
    assert client.post("/operatore/pagamenti-segnalati/9999999/verifica").status_code == 404
    assert models.PaymentReport.get_by_id(stored.id).handled_at is None


def test_customers_never_see_the_back_office_queue(client, logged_in):
    assert client.get("/operatore/pagamenti-segnalati").status_code == 404


# --- Direct debit: the mandate's lifecycle through export and import ------------------------

def sign(client, point, iban=VALID_IBANS[0], holder="ACQUE CHIARE S.R.L.", tax_code="",
         accept="y", token=None):
    data = {"iban": iban, "account_holder": holder, "holder_tax_code": tax_code}
    if accept:
        data["accept"] = accept
    if token:
        data["submission_token"] = token
    return client.post(f"/pagamenti/domiciliazione?punto={point.code}", data=data)


def outcomes(runner, tmp_path, *rows):
    path = write_csv(tmp_path / "mandate_outcomes.csv", ["reference", "outcome", "reason"],
                     [list(row) for row in rows])
    return import_ok(runner, "mandate_outcomes", path)


def exported(app):
    with app.app_context():
        result = payments.export_mandates(app.config["EXPORT_DIR"])
    if result is None:
        return None
    with open(result[0], encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_mandate_lifecycle_through_export_and_import(app, client, logged_in, runner, tmp_path):
    point = gas_point(logged_in)
    assert sign(client, point, iban="IT60 X054 2811 1010 0000 0123 456").status_code == 303
    mandate = models.DirectDebitMandate.get()
    assert mandate.status == "In attesa" and mandate.iban == VALID_IBANS[0]
    page = client.get(f"/pagamenti/domiciliazione?punto={point.code}").text
    assert "in attesa di conferma" in page and "IT..3456" in page
    assert VALID_IBANS[0] not in page and "0542811101" not in page

    lines = exported(app)
    assert lines == [{"reference": mandate.reference, "request": "attivazione",
                      "customer_code": "654321", "supply_point_code": point.code,
                      "pdr_pod": point.pdr_pod, "iban": VALID_IBANS[0],
                      "account_holder": "ACQUE CHIARE S.R.L.", "holder_tax_code": "",
                      "signed_at": lines[0]["signed_at"]}]
    assert exported(app) is None  # exactly once

    outcomes(runner, tmp_path, (mandate.reference, "attivo", ""))
    page = client.get(f"/pagamenti/domiciliazione?punto={point.code}").text
    assert "Domiciliazione attiva sul conto IT..3456" in page

    # A change: a new mandate replaces the old one once the billing system confirms it.
    assert sign(client, point, iban=VALID_IBANS[1], holder="MARIO ROSSI",
                tax_code="RSSMRA80A01H501U").status_code == 303
    new = models.DirectDebitMandate.get(models.DirectDebitMandate.id != mandate.id)
    assert exported(app)[0]["holder_tax_code"] == "RSSMRA80A01H501U"
    outcomes(runner, tmp_path, (new.reference, "attivo", ""))
    assert models.DirectDebitMandate.get_by_id(mandate.id).status == "Sostituito"
    assert "Domiciliazione attiva sul conto IT..2345" in client.get(
        f"/pagamenti/domiciliazione?punto={point.code}").text

    # Revocation: requested, exported as such, confirmed.
    assert client.post(f"/pagamenti/domiciliazione/{new.id}/revoca").status_code == 303
    assert models.DirectDebitMandate.get_by_id(new.id).status == "Revoca in corso"
    assert [line["request"] for line in exported(app)] == ["revoca"]
    outcomes(runner, tmp_path, (new.reference, "revocato", ""))
    assert models.DirectDebitMandate.get_by_id(new.id).status == "Revocato"
    assert "Domiciliazione attiva" not in client.get(
        f"/pagamenti/domiciliazione?punto={point.code}").text


def test_rejected_mandate_shows_its_reason(app, client, logged_in, runner, tmp_path):
    point = gas_point(logged_in)
    sign(client, point)
    mandate = models.DirectDebitMandate.get()
    exported(app)
    outcomes(runner, tmp_path, (mandate.reference, "rifiutato", "Conto estinto"))
    page = client.get(f"/pagamenti/domiciliazione?punto={point.code}").text
    assert "Rifiutato" in page and "Conto estinto" in page
    # Rejected: a new request may be made.
    assert sign(client, point, iban=VALID_IBANS[2]).status_code == 303


def test_mandate_outcome_of_an_unknown_reference_is_a_bad_line(app, runner, tmp_path):
    path = write_csv(tmp_path / "mandate_outcomes.csv", ["reference", "outcome", "reason"],
                     [["ACM-0000000", "attivo", ""]])
    result = runner.invoke(args=["import", "mandate_outcomes", str(path), "--quiet"])
    assert result.exit_code != 0 and "no mandate ACM-0000000" in result.output


@pytest.mark.parametrize("iban, tax_code, accept, message", [
    (WRONG_CIN[0], "", "y", "carattere di controllo CIN"),
    ("IT61X0542811101000000123456", "", "y", "L&#39;IBAN non è valido"),
    (VALID_IBANS[0], "RSSMRA80A01H501X", "y", "Il codice fiscale non è valido"),
    (VALID_IBANS[0], "", None, "conferma il testo del mandato"),
])
def test_bad_mandate_input_is_refused_beside_the_field(client, logged_in, iban, tax_code, accept,
                                                       message):
    point = gas_point(logged_in)
    response = sign(client, point, iban=iban, tax_code=tax_code, accept=accept)
    assert response.status_code == 422
    assert message in response.text
    assert f'value="{iban}"' in response.text  # what was typed stays
    assert models.DirectDebitMandate.select().count() == 0


def test_one_request_at_a_time_and_a_double_submit_signs_once(client, logged_in):
    point = gas_point(logged_in)
    token = "tok-" + "b" * 20
    assert sign(client, point, token=token).status_code == 303
    assert sign(client, point, token=token).status_code == 303
    assert models.DirectDebitMandate.select().count() == 1
    again = sign(client, point, iban=VALID_IBANS[1])
    assert again.status_code == 422 and "già in corso" in again.text
    assert models.DirectDebitMandate.select().count() == 1


@pytest.mark.parametrize("company, sentence", [
    ("Energia Colline Toscane S.p.A.", "impartite da Energia Colline Toscane S.p.A. Il debitore"),
    ("Gas Maremma Srl", "impartite da Gas Maremma Srl. Il debitore"),
])
def test_mandate_text_ends_its_sentence_once(app, client, logged_in, company, sentence):
    app.config["COMPANY_NAME"] = company
    page = client.get(f"/pagamenti/domiciliazione?punto={gas_point(logged_in).code}").text
    assert sentence in page and ".. Il debitore" not in page


def test_mandate_pdf_carries_its_reference(client, logged_in):
    point = gas_point(logged_in)
    sign(client, point)
    mandate = models.DirectDebitMandate.get()
    response = client.get(f"/pagamenti/domiciliazione/{mandate.id}/mandato.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert mandate.reference in response.headers["Content-Disposition"]
    assert f"Mandato SEPA {mandate.reference}".encode() in response.data


def test_flask_mandates_export_writes_the_file_once(app, client, logged_in, runner):
    sign(client, gas_point(logged_in))
    first = runner.invoke(args=["mandates", "export"])
    assert first.exit_code == 0 and "Esportate 1 richieste" in first.output
    files = list(Path(app.config["EXPORT_DIR"]).glob("mandates-*.csv"))
    assert len(files) == 1 and VALID_IBANS[0] in files[0].read_text(encoding="utf-8")
    second = runner.invoke(args=["mandates", "export"])
    assert "nessun file scritto" in second.output


def test_acquire_now_button_exports_mandate_requests_and_names_the_files(app, client, logged_in):
    from test_backoffice import OPERATOR_PASSWORD, operator_login
    point = gas_point(logged_in)
    assert sign(client, point).status_code == 303
    models.SelfReading.create(supply_point=point, reading_date=datetime.date(2026, 1, 15),
                              meter_reading=4_500_001)
    client.post("/logout")
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    assert operator_login(client, "mario.rossi", OPERATOR_PASSWORD).status_code == 303
    page = client.get("/operatore/acquisizione").text
    assert '<p class="big">1 <span class="big-label">richieste di domiciliazione' in page

    assert client.post("/operatore/acquisizione/avvia").status_code == 303
    mandate = models.DirectDebitMandate.get()
    assert mandate.exported_at is not None
    files = sorted(path.name for path in Path(app.config["EXPORT_DIR"]).glob("*.csv"))
    mandates_file = next(name for name in files if name.startswith("mandates-"))
    readings_file = models.AcquisitionRun.get().file_path
    with open(Path(app.config["EXPORT_DIR"]) / mandates_file, encoding="utf-8") as handle:
        assert mandate.reference in handle.read()
    page = client.get("/operatore/acquisizione").text
    assert (f"Esportate 1 autoletture in {readings_file} e 1 richieste di domiciliazione "
            f"in {mandates_file}.") in page
    assert '<p class="big">0 <span class="big-label">richieste di domiciliazione' in page
    assert models.AuditLog.get(models.AuditLog.event == "acquisition_started").detail == (
        "1 letture, 1 richieste di domiciliazione")

    # Only a revocation waiting: the button sends it alone and says so.
    models.DirectDebitMandate.update(status="Attivo").execute()
    assert payments.request_revocation(mandate)
    client.post("/operatore/acquisizione/avvia")
    page = client.get("/operatore/acquisizione").text
    assert "Esportate 1 richieste di domiciliazione in mandates-" in page
    assert models.AcquisitionRun.select().count() == 1


def test_a_point_passed_on_takes_no_mandate_from_its_previous_holder(client, auth, handover):
    """The previous holder still sees (and may pay) their invoices, but cannot put the
    point, now another customer's, under their direct debit."""
    auth.login(handover.a.code)
    point = handover.gas.code
    page = client.get(f"/pagamenti/domiciliazione?punto={point}")
    assert page.status_code == 200 and "Fornitura cessata dal" in page.text
    assert "Sottoscrivi il mandato" not in page.text
    refused = client.post(f"/pagamenti/domiciliazione?punto={point}",
                          data={"iban": VALID_IBANS[0], "account_holder": "PRIMO TITOLARE",
                                "accept": "y"})
    assert refused.status_code == 422 and "è cessata" in refused.text
    assert models.DirectDebitMandate.select().count() == 0


def test_htmx_form_errors_come_back_as_the_forms_block(client, logged_in):
    point = gas_point(logged_in)
    refused = client.post(f"/pagamenti/domiciliazione?punto={point.code}",
                          data={"iban": WRONG_CIN[1], "account_holder": "X", "accept": "y"},
                          headers={**HTMX, "HX-Target": "mandate-form"})
    assert refused.status_code == 422 and "<html" not in refused.text
    assert "carattere di controllo CIN" in refused.text and "<h1" not in refused.text
    invoice = unpaid(point, "FT2026-7000007")
    bad = client.post(f"/pagamenti/fatture/{invoice.id}/segnala", data={},
                      headers={**HTMX, "HX-Target": "report-form-body"})
    assert bad.status_code == 422 and "<html" not in bad.text
    assert "Scegli il file della ricevuta." in bad.text
