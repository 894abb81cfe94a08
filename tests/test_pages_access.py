"""Every customer page of this area: page or fragment, login, and never another
customer's data whatever id or supply point is sent."""
import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import models

PAGES = {
    "/fatture": "Elenco fatture",
    "/dati-anagrafici": "Dati Anagrafici",
    "/dati-tecnici": "Dati Tecnici",
    "/dati-contrattuali": "Dati Contrattuali",
    "/documenti": "I miei documenti",
    "/modulistica": "Modulistica",
}
# Inner blocks that htmx asks for by their element id.
INNER_BLOCKS = [("/fatture", "invoice-list", "pag. 1 di 1"),
                ("/dati-anagrafici", "contact-form", 'name="phone"')]
HTMX_CONTENT = {"HX-Request": "true", "HX-Target": "content"}


def write(app, relative_path, content):
    path = Path(app.config["FILES_DIR"]) / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def own(app, logged_in):
    """One invoice with PDF and one document of the logged-in customer."""
    point = logged_in.supply_points_in_order().first()
    invoice = models.Invoice.create(
        number="FT2024-000001", supply_point=point, date=datetime.date(2024, 3, 1),
        period_start=datetime.date(2024, 1, 1), period_end=datetime.date(2024, 2, 29),
        amount=Decimal("123.45"), due_date=datetime.date(2024, 3, 21), paid=True,
        pdf_path="invoices/own.pdf")
    write(app, "invoices/own.pdf", b"%PDF own")
    document = models.Document.create(customer=logged_in, title="Mio contratto",
                                      date=datetime.date(2020, 1, 1), file_path="docs/own.pdf")
    write(app, "docs/own.pdf", b"%PDF own document")
    return dict(invoice=invoice, document=document)


@pytest.fixture
def theirs(app, other_customer):
    """The other customer's point, invoice and document, with recognisable text."""
    point = other_customer.supply_points_in_order().get()
    point.technical_data = {"tech_meter_class": "SEGRETO-TECNICO"}
    point.contract_data = {"contract_offer": "SEGRETO-CONTRATTO"}
    point.save()
    invoice = models.Invoice.create(
        number="FT-SEGRETA-1", supply_point=point, date=datetime.date(2024, 3, 1),
        period_start=datetime.date(2024, 1, 1), period_end=datetime.date(2024, 2, 29),
        amount=Decimal("9876.54"), due_date=datetime.date(2024, 3, 21), paid=False,
        pdf_path="invoices/theirs.pdf")
    write(app, "invoices/theirs.pdf", b"%PDF SEGRETO-PDF")
    document = models.Document.create(customer=other_customer, title="SEGRETO-DOCUMENTO",
                                      date=datetime.date(2020, 1, 1), file_path="docs/theirs.pdf")
    write(app, "docs/theirs.pdf", b"%PDF SEGRETO-DOC")
    return dict(customer=other_customer, point=point, invoice=invoice, document=document)


def assert_nothing_of_theirs(response, theirs):
    body = response.get_data(as_text=True)
    for secret in ("ALTRO CLIENTE SEGRETO", "SEGRETO", theirs["point"].code,
                   theirs["point"].pdr_pod, "FT-SEGRETA-1", "9.876,54", theirs["customer"].email):
        assert secret not in body, secret


@pytest.mark.parametrize("url", [*PAGES, "/fatture/1/pdf", "/documenti/1", "/modulistica/1"])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_profile_post_needs_login(client, customer):
    response = client.post("/dati-anagrafici", data={"phone": "0586 111111"})
    assert response.status_code == 302
    assert models.Customer.get_by_id(customer.id).phone == customer.phone


@pytest.mark.parametrize("url, title", PAGES.items())
def test_full_page_without_htmx(client, logged_in, url, title):
    response = client.get(url)
    assert response.status_code == 200
    assert response.text.startswith("<!doctype html>") and "<html" in response.text
    assert f"<h1>{title}</h1>" in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url, title", PAGES.items())
def test_content_block_alone_for_htmx(client, logged_in, url, title):
    response = client.get(url, headers=HTMX_CONTENT)
    assert response.status_code == 200
    assert "<html" not in response.text and "<head" not in response.text
    assert f"<h1>{title}</h1>" in response.text
    # The menu and the picker come along out of band, aimed at this page.
    assert 'id="menu"' in response.text and 'hx-swap-oob="true"' in response.text
    assert f'hx-get="{url}"' in response.text
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("url, target, marker", INNER_BLOCKS)
def test_inner_block_alone_for_htmx(client, logged_in, url, target, marker, own):
    response = client.get(url, headers={"HX-Request": "true", "HX-Target": target})
    assert response.status_code == 200
    assert marker in response.text
    assert "<html" not in response.text and "<h1>" not in response.text
    assert 'id="menu"' not in response.text
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("url", [*PAGES, "/home"])
@pytest.mark.parametrize("headers", [{}, HTMX_CONTENT], ids=["page", "htmx"])
def test_another_customers_supply_point_is_404_on_every_page(client, logged_in, theirs, url,
                                                              headers):
    response = client.get(url, query_string={"punto": theirs["point"].code}, headers=headers)
    assert response.status_code == 404
    assert_nothing_of_theirs(response, theirs)
    # Nothing was remembered either: the next page is still about the customer's own point.
    follow = client.get(url)
    assert follow.status_code == 200
    assert_nothing_of_theirs(follow, theirs)


@pytest.mark.parametrize("code", ["PR999999", "", "' OR 1=1 --", "PR%", "PR\x00", "x" * 10_000])
def test_unknown_supply_points_are_404(client, logged_in, code):
    assert client.get("/fatture", query_string={"punto": code}).status_code == 404


@pytest.mark.parametrize("target", ["invoice-list", "contact-form"])
def test_another_customers_point_is_404_for_inner_blocks(client, logged_in, theirs, target):
    url = "/fatture" if target == "invoice-list" else "/dati-anagrafici"
    response = client.get(url, query_string={"punto": theirs["point"].code},
                          headers={"HX-Request": "true", "HX-Target": target})
    assert response.status_code == 404
    assert_nothing_of_theirs(response, theirs)


def test_another_customers_point_in_a_posted_form_is_404(client, logged_in, theirs):
    response = client.post("/dati-anagrafici", data={
        "punto": theirs["point"].code, "phone": "0586 000111", "fax": "",
        "email": logged_in.email})
    assert response.status_code == 404
    assert_nothing_of_theirs(response, theirs)
    assert models.Customer.get_by_id(logged_in.id).phone == logged_in.phone


@pytest.mark.parametrize("kind", ["invoice", "document"])
@pytest.mark.parametrize("punto", ["own", "theirs", None])
def test_another_customers_files_are_404(client, logged_in, own, theirs, kind, punto):
    url = (f"/fatture/{theirs['invoice'].id}/pdf" if kind == "invoice"
           else f"/documenti/{theirs['document'].id}")
    query = {}
    if punto == "own":
        query["punto"] = logged_in.supply_points_in_order().first().code
    elif punto == "theirs":
        query["punto"] = theirs["point"].code
    response = client.get(url, query_string=query)
    assert response.status_code == 404
    assert_nothing_of_theirs(response, theirs)


@pytest.mark.parametrize("url", ["/fatture/{invoice}/pdf", "/documenti/{document}"])
def test_own_files_with_another_customers_point_are_404(client, logged_in, own, theirs, url):
    target = url.format(invoice=own["invoice"].id, document=own["document"].id)
    assert client.get(target).status_code == 200
    response = client.get(target, query_string={"punto": theirs["point"].code})
    assert response.status_code == 404
    assert_nothing_of_theirs(response, theirs)


def test_lists_never_show_another_customers_data(client, logged_in, own, theirs):
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200
        assert_nothing_of_theirs(response, theirs)


# --- The supply-point picker on these pages -------------------------------------------

def points(customer):
    gas = customer.supply_points_in_order().where(models.SupplyPoint.commodity == "gas").get()
    electricity = (customer.supply_points_in_order()
                   .where(models.SupplyPoint.commodity == "electricity").get())
    return gas, electricity


@pytest.mark.parametrize("url", [*PAGES, "/home"])
def test_picker_swaps_the_page_and_the_commodity_menu_entries(client, logged_in, url):
    gas, electricity = points(logged_in)

    to_electricity = client.get(url, query_string={"punto": electricity.code},
                                headers=HTMX_CONTENT)

    assert to_electricity.status_code == 200
    assert "<html" not in to_electricity.text
    assert f'<option value="{electricity.code}" selected>' in to_electricity.text
    assert "Misure elettriche" in to_electricity.text
    assert "Autolettura Contatore" not in to_electricity.text

    # Remembered in the session: a reload without `punto` stays on the electricity point.
    reload = client.get(url)
    assert f'<option value="{electricity.code}" selected>' in reload.text

    to_gas = client.get(url, query_string={"punto": gas.code}, headers=HTMX_CONTENT)
    assert f'<option value="{gas.code}" selected>' in to_gas.text
    assert "Autolettura Contatore" in to_gas.text
    assert "Misure elettriche" not in to_gas.text


def test_picker_posts_back_to_the_page_it_is_on(client, logged_in):
    page = client.get("/dati-tecnici")
    assert ('<form id="supply-picker" class="supply-picker" method="get" action="/dati-tecnici"'
            in page.text)
    assert 'hx-get="/dati-tecnici" hx-target="#content" hx-push-url="true"' in page.text
