"""Elenco fatture: the list, its year filter and pager, and the PDF downloads."""
import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest

import models

PDF_BYTES = b"%PDF-1.4\n% fattura di prova\n%%EOF\n"
HTMX = {"HX-Request": "true"}


def add_invoice(supply_point, number, date, amount="100.00", paid=True, due_date=None,
                pdf_path=None):
    return models.Invoice.create(
        number=number, supply_point=supply_point, date=date,
        period_start=date.replace(day=1) - datetime.timedelta(days=28),
        period_end=date.replace(day=1) - datetime.timedelta(days=1),
        amount=Decimal(amount), due_date=due_date or date + datetime.timedelta(days=20),
        paid=paid, pdf_path=pdf_path)


def write_file(app, relative_path, content=PDF_BYTES):
    path = Path(app.config["FILES_DIR"]) / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def gas_point(customer):
    return customer.supply_points_in_order().where(models.SupplyPoint.commodity == "gas").get()


def electricity_point(customer):
    return (customer.supply_points_in_order()
            .where(models.SupplyPoint.commodity == "electricity").get())


def rows_of(html):
    """The invoice numbers in the order the table shows them."""
    return re.findall(r"<td role=\"cell\" data-label=\"Numero\"><strong>([^<]+)</strong>", html)


def test_list_shows_the_columns_in_italian_newest_first_since_2014(client, logged_in):
    point = gas_point(logged_in)
    add_invoice(point, "FT2013-000900", datetime.date(2013, 12, 10))
    add_invoice(point, "FT2015-000010", datetime.date(2015, 3, 5), amount="1234.56", paid=True)
    add_invoice(point, "FT2016-000020", datetime.date(2016, 4, 2), amount="89.90", paid=False,
                due_date=datetime.date(2016, 5, 2))
    add_invoice(point, "FT2026-000030", datetime.date(2026, 1, 7), amount="12.00", paid=False,
                due_date=datetime.date(2099, 1, 1))

    page = client.get("/fatture")

    assert page.status_code == 200
    for column in ("Numero", "Data documento", "Periodo", "Importo", "Scadenza", "Stato", "Doc"):
        assert f">{column}</th>" in page.text
    assert rows_of(page.text) == ["FT2026-000030", "FT2016-000020", "FT2015-000010"]
    assert "FT2013-000900" not in page.text
    assert "1.234,56 €" in page.text and "89,90 €" in page.text
    assert "05/03/2015" in page.text and "25/03/2015" in page.text
    assert "01/02/2015 – 28/02/2015" in page.text
    assert 'status--pagata">Pagata<' in page.text
    assert 'status--scaduta">Scaduta<' in page.text
    assert 'status--da-pagare">Da pagare<' in page.text


def test_pdf_symbol_only_where_a_pdf_exists(app, client, logged_in):
    point = gas_point(logged_in)
    with_pdf = add_invoice(point, "FT2024-000123", datetime.date(2024, 2, 1),
                           pdf_path="invoices/FT2024-000123.pdf")
    add_invoice(point, "FT2024-000124", datetime.date(2024, 3, 1))

    page = client.get("/fatture")

    assert page.text.count('class="pdf-icon"') == 1
    assert 'aria-label="Scarica PDF fattura n. FT2024-000123"' in page.text
    assert 'title="Scarica PDF fattura n. FT2024-000123"' in page.text
    assert f'href="/fatture/{with_pdf.id}/pdf"' in page.text
    assert "Scarica PDF fattura n. FT2024-000124" not in page.text


def test_only_the_selected_points_invoices(client, logged_in):
    add_invoice(gas_point(logged_in), "FT-GAS-1", datetime.date(2024, 1, 10))
    electricity = electricity_point(logged_in)
    add_invoice(electricity, "FT-LUCE-1", datetime.date(2024, 1, 12))

    assert rows_of(client.get("/fatture").text) == ["FT-GAS-1"]
    assert rows_of(client.get(f"/fatture?punto={electricity.code}").text) == ["FT-LUCE-1"]
    # The choice is remembered for the next page without `punto`.
    assert rows_of(client.get("/fatture").text) == ["FT-LUCE-1"]


def test_year_filter_offers_the_years_with_invoices_and_filters(client, logged_in):
    point = gas_point(logged_in)
    for year in (2014, 2019, 2019, 2023):
        add_invoice(point, f"FT{year}-{models.Invoice.select().count():06d}",
                    datetime.date(year, 6, 15))

    page = client.get("/fatture")
    year_select = page.text.split('id="anno"')[1].split("</select>")[0]
    options = re.findall(r'<option value="(\d*)"', year_select)
    assert options == ["", "2023", "2019", "2014"]
    assert 'hx-target="#invoice-list"' in page.text and 'hx-push-url="true"' in page.text

    filtered = client.get(f"/fatture?punto={point.code}&anno=2019")
    assert [number[:6] for number in rows_of(filtered.text)] == ["FT2019", "FT2019"]
    assert '<option value="2019" selected>' in filtered.text


def test_htmx_filter_returns_the_list_block_alone(client, logged_in):
    point = gas_point(logged_in)
    add_invoice(point, "FT2019-000001", datetime.date(2019, 6, 15))
    add_invoice(point, "FT2020-000001", datetime.date(2020, 6, 15))

    block = client.get("/fatture?anno=2020", headers={**HTMX, "HX-Target": "invoice-list"})

    assert block.status_code == 200
    assert "<html" not in block.text
    assert 'id="anno"' not in block.text and 'id="menu"' not in block.text
    assert rows_of(block.text) == ["FT2020-000001"]
    assert "HX-Request" in block.headers["Vary"]


@pytest.mark.parametrize("year", ["1999", "abc", "", "2019' OR 1=1", "99999999999999999999"])
def test_odd_years_show_every_year(client, logged_in, year):
    point = gas_point(logged_in)
    add_invoice(point, "FT2019-000001", datetime.date(2019, 6, 15))
    add_invoice(point, "FT2020-000001", datetime.date(2020, 6, 15))

    page = client.get("/fatture", query_string={"anno": year})

    assert page.status_code == 200
    assert rows_of(page.text) == ["FT2020-000001", "FT2019-000001"]


def test_pages_of_twelve_with_position(client, logged_in):
    point = gas_point(logged_in)
    first = datetime.date(2020, 1, 1)
    for index in range(30):
        add_invoice(point, f"FT-{index:03d}", first + datetime.timedelta(days=index * 30))

    first_page = client.get("/fatture")
    assert rows_of(first_page.text) == [f"FT-{index:03d}" for index in range(29, 17, -1)]
    assert "pag. 1 di 3" in first_page.text
    assert f'href="/fatture?punto={point.code}&amp;pagina=2"' in first_page.text
    assert "Precedenti" not in first_page.text

    second = client.get(f"/fatture?punto={point.code}&pagina=2",
                        headers={**HTMX, "HX-Target": "invoice-list"})
    assert "<html" not in second.text
    assert rows_of(second.text) == [f"FT-{index:03d}" for index in range(17, 5, -1)]
    assert "pag. 2 di 3" in second.text and "Precedenti" in second.text

    last = client.get("/fatture?pagina=99")
    assert rows_of(last.text) == [f"FT-{index:03d}" for index in range(5, -1, -1)]
    assert "pag. 3 di 3" in last.text and "Successive" not in last.text

    assert "pag. 1 di 3" in client.get("/fatture?pagina=-4").text
    assert "pag. 1 di 3" in client.get("/fatture?pagina=due").text


def test_pager_keeps_the_year(client, logged_in):
    point = gas_point(logged_in)
    for index in range(14):
        add_invoice(point, f"FT2021-{index:03d}",
                    datetime.date(2021, 1, 1) + datetime.timedelta(days=index * 20))
    add_invoice(point, "FT2022-000001", datetime.date(2022, 6, 1))

    page = client.get("/fatture?anno=2021")

    assert "pag. 1 di 2" in page.text
    assert f'href="/fatture?punto={point.code}&amp;anno=2021&amp;pagina=2"' in page.text


def test_point_without_invoices_says_so(client, logged_in):
    page = client.get("/fatture")
    assert page.status_code == 200
    assert "Non ci sono fatture per questo punto di fornitura dal 2014." in page.text
    assert 'id="anno"' not in page.text


def test_customer_without_supply_points_gets_a_message(client, factory, auth):
    factory.customer(code="111222")
    auth.login("111222")
    page = client.get("/fatture")
    assert page.status_code == 200
    assert "Non risultano punti di fornitura" in page.text


@pytest.mark.parametrize("number, expected", [
    ("FT2024-000123", "Fattura-FT2024-000123.pdf"),
    ("FT2024/000123", "Fattura-FT2024-000123.pdf"),
    ('A"B;C\r\nD', "Fattura-A-B-C-D.pdf"),
])
def test_pdf_downloads_as_an_attachment_named_after_the_number(app, client, logged_in, number,
                                                                 expected):
    invoice = add_invoice(gas_point(logged_in), number, datetime.date(2024, 2, 1),
                          pdf_path="invoices/2024/one.pdf")
    write_file(app, "invoices/2024/one.pdf")

    response = client.get(f"/fatture/{invoice.id}/pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename={expected}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == PDF_BYTES


def test_pdf_of_the_other_point_of_the_same_customer_downloads(app, client, logged_in):
    invoice = add_invoice(electricity_point(logged_in), "FT-LUCE-9", datetime.date(2024, 2, 1),
                          pdf_path="luce.pdf")
    write_file(app, "luce.pdf")
    assert client.get(f"/fatture/{invoice.id}/pdf").status_code == 200


def test_another_customers_pdf_is_404(app, client, logged_in, other_customer):
    stranger_point = other_customer.supply_points_in_order().get()
    invoice = add_invoice(stranger_point, "FT-SEGRETA", datetime.date(2024, 2, 1),
                          pdf_path="secret.pdf")
    write_file(app, "secret.pdf", b"%PDF-1.4 SEGRETO")

    response = client.get(f"/fatture/{invoice.id}/pdf")

    assert response.status_code == 404
    assert b"SEGRETO" not in response.data and "FT-SEGRETA" not in response.text


def test_unknown_invoice_and_invoice_without_pdf_are_404(client, logged_in):
    invoice = add_invoice(gas_point(logged_in), "FT-NOPDF", datetime.date(2024, 2, 1))
    assert client.get(f"/fatture/{invoice.id}/pdf").status_code == 404
    assert client.get("/fatture/999999/pdf").status_code == 404
    assert client.get("/fatture/-1/pdf").status_code == 404
    assert client.get("/fatture/99999999999999999999/pdf").status_code == 404


def test_pdf_missing_on_disk_gets_a_clear_message(client, logged_in):
    invoice = add_invoice(gas_point(logged_in), "FT-PERSA", datetime.date(2024, 2, 1),
                          pdf_path="invoices/missing.pdf")

    page = client.get(f"/fatture/{invoice.id}/pdf")
    assert page.status_code == 404
    assert "<html" in page.text
    assert ("Il PDF di questa fattura non è al momento disponibile: contatta il servizio "
            "clienti.") in page.text

    fragment = client.get(f"/fatture/{invoice.id}/pdf", headers=HTMX)
    assert fragment.status_code == 404
    assert "<html" not in fragment.text
    assert "Il PDF di questa fattura non è al momento disponibile" in fragment.text
    assert fragment.headers["HX-Retarget"] == "#flash"


@pytest.mark.parametrize("stored_path", ["../outside.pdf", "/etc/passwd",
                                         "invoices/../../outside.pdf"])
def test_pdf_path_leading_outside_the_files_folder_is_never_served(app, client, logged_in,
                                                                    tmp_path, stored_path):
    (tmp_path / "outside.pdf").write_bytes(b"%PDF-1.4 FUORI")
    invoice = add_invoice(gas_point(logged_in), "FT-FUORI", datetime.date(2024, 2, 1),
                          pdf_path=stored_path)

    response = client.get(f"/fatture/{invoice.id}/pdf")

    assert response.status_code == 404
    assert b"FUORI" not in response.data and b"root:" not in response.data
    assert "non è al momento disponibile" in response.text
