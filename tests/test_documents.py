"""I miei documenti (the customer's own) and Modulistica (for everybody)."""
import datetime
import re
from pathlib import Path

import pytest

import models


def publish(app, relative_path, content):
    path = Path(app.config["FILES_DIR"]) / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def add_document(app, customer, title, date, file_path, content=b"%PDF-1.4 documento"):
    publish(app, file_path, content)
    return models.Document.create(customer=customer, title=title, date=date, file_path=file_path)


def add_form(app, title, date, file_path, content=b"%PDF-1.4 modulo"):
    publish(app, file_path, content)
    return models.Form.create(title=title, date=date, file_path=file_path)


def titles(html):
    return re.findall(r'<td role="cell" data-label="Titolo">([^<]+)</td>', html)


def test_my_documents_newest_first_with_italian_dates(app, client, logged_in, other_customer):
    add_document(app, logged_in, "Contratto di fornitura", datetime.date(2015, 2, 15),
                 "documents/654321/contratto.pdf")
    add_document(app, logged_in, "Comunicazione variazione prezzi", datetime.date(2023, 9, 1),
                 "documents/654321/prezzi.pdf")
    add_document(app, other_customer, "Piano di rientro riservato", datetime.date(2024, 1, 1),
                 "documents/999888/rientro.pdf")

    page = client.get("/documenti")

    assert page.status_code == 200
    assert titles(page.text) == ["Comunicazione variazione prezzi", "Contratto di fornitura"]
    assert "01/09/2023" in page.text and "15/02/2015" in page.text
    assert "Piano di rientro riservato" not in page.text
    assert ">Data</th>" in page.text and ">Titolo</th>" in page.text


def test_no_documents_says_so(client, logged_in):
    assert "Non ci sono documenti a tua disposizione." in client.get("/documenti").text


def test_document_downloads_as_an_attachment_named_after_its_title(app, client, logged_in):
    document = add_document(app, logged_in, "Modalità di pagamento: SDD",
                            datetime.date(2023, 1, 1), "documents/654321/sdd.PDF",
                            b"%PDF-1.4 il mio documento")

    response = client.get(f"/documenti/{document.id}")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        "attachment; filename=Modalita-di-pagamento-SDD.pdf"
    assert response.mimetype == "application/pdf"
    assert response.data == b"%PDF-1.4 il mio documento"


def test_another_customers_document_is_404(app, client, logged_in, other_customer):
    document = add_document(app, other_customer, "Riservato", datetime.date(2023, 1, 1),
                            "documents/999888/riservato.pdf", b"%PDF SEGRETO")
    response = client.get(f"/documenti/{document.id}")
    assert response.status_code == 404
    assert b"SEGRETO" not in response.data and "Riservato" not in response.text
    assert client.get("/documenti/424242").status_code == 404


def test_document_missing_on_disk_gets_a_clear_message(app, client, logged_in):
    document = models.Document.create(customer=logged_in, title="Perso",
                                      date=datetime.date(2023, 1, 1),
                                      file_path="documents/654321/perso.pdf")
    response = client.get(f"/documenti/{document.id}")
    assert response.status_code == 404
    assert "Questo documento non è al momento disponibile: contatta il servizio clienti." \
        in response.text


def test_forms_are_for_every_customer(app, client, logged_in, other_customer, auth):
    add_form(app, "Modulo di voltura", datetime.date(2022, 5, 1), "forms/voltura.pdf")
    add_form(app, "Richiesta di rateizzazione", datetime.date(2024, 3, 1), "forms/rate.docx",
             b"PK docx")

    page = client.get("/modulistica")
    assert titles(page.text) == ["Richiesta di rateizzazione", "Modulo di voltura"]
    assert "01/03/2024" in page.text

    auth.logout()
    auth.login(other_customer.code)
    assert titles(client.get("/modulistica").text) == ["Richiesta di rateizzazione",
                                                       "Modulo di voltura"]


def test_form_downloads_as_an_attachment(app, client, logged_in):
    form = add_form(app, "Richiesta di rateizzazione", datetime.date(2024, 3, 1),
                    "forms/rate.docx", b"PK docx")

    response = client.get(f"/modulistica/{form.id}")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == \
        "attachment; filename=Richiesta-di-rateizzazione.docx"
    assert response.data == b"PK docx"


def test_unknown_or_missing_form(app, client, logged_in):
    assert client.get("/modulistica/31337").status_code == 404
    form = models.Form.create(title="Sparito", date=datetime.date(2024, 1, 1),
                              file_path="forms/sparito.pdf")
    response = client.get(f"/modulistica/{form.id}", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert "Questo documento non è al momento disponibile" in response.text
    assert "<html" not in response.text


def test_no_forms_says_so(client, logged_in):
    assert "Non ci sono moduli disponibili." in client.get("/modulistica").text


@pytest.mark.parametrize("stored_path", ["../fuori.pdf", "/etc/hostname"])
def test_paths_outside_the_files_folder_are_never_served(app, client, logged_in, tmp_path,
                                                          stored_path):
    (tmp_path / "fuori.pdf").write_bytes(b"FUORI")
    document = models.Document.create(customer=logged_in, title="Fuori",
                                      date=datetime.date(2024, 1, 1), file_path=stored_path)
    response = client.get(f"/documenti/{document.id}")
    assert response.status_code == 404
    assert b"FUORI" not in response.data
