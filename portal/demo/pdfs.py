"""The demo's PDFs: invoices, letters and forms on the company's letterhead."""
import datetime

from fpdf import FPDF, XPos, YPos

import models
from portal.demo import common, people, plans
from portal.formatting import date_it, money, number_it

_COMPANY_DETAILS = (f"Via dell'Energia 1 - 57121 Livorno (LI) - P.IVA {people.COMPANY_VAT} - "
                    "Servizio clienti 0586 000100 - assistenza@example.it")
_BRAND = (31, 94, 60)
_GREY = (95, 95, 95)
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)


def _new_pdf(title, day, company_name):
    pdf = FPDF(format="A4")
    # The 14 standard PDF fonts with WinAnsiEncoding (cp1252) print "€" and the
    # accented letters; an embedded TTF font costs ~100 ms per file (parsing and
    # subsetting), too slow for thousands of invoices.
    pdf.core_fonts_encoding = "cp1252"
    # Uncompressed content: the demo PDFs stay searchable as bytes (the tests look
    # for the customer code in them) and are quicker to write.
    pdf.set_compression(False)
    # A fixed creation date keeps the files reproducible byte for byte.
    pdf.set_creation_date(datetime.datetime.combine(day, datetime.time(9), models.ROME))
    pdf.set_title(title)
    pdf.set_author(company_name)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    return pdf


# The bills are drawn with text() at baseline coordinates, not cell(): a quarter of
# the cost, and thousands of them are written.
def _text(pdf, x, y, text, size=9, style="", color=_BLACK):
    pdf.set_font("helvetica", style, size)
    pdf.set_text_color(*color)
    pdf.text(x, y, text)


def _text_right(pdf, right, y, text, size=9, style="", color=_BLACK):
    pdf.set_font("helvetica", style, size)
    _text(pdf, right - pdf.get_string_width(text), y, text, size, style, color)


def _wrap(pdf, text, width):
    """Lines of at most `width` mm in the current font, broken between words."""
    lines = [""]
    for word in text.split():
        candidate = f"{lines[-1]} {word}".strip()
        if lines[-1] and pdf.get_string_width(candidate) > width:
            lines.append(word)
        else:
            lines[-1] = candidate
    return lines


def _letterhead(pdf, company_name):
    pdf.set_fill_color(*_BRAND)
    pdf.rect(0, 0, 210, 4, style="F")
    _text(pdf, 15, 14.5, company_name, 15, "B", _BRAND)
    _text(pdf, 15, 19, _COMPANY_DETAILS, 7.5, color=_GREY)
    pdf.set_draw_color(*_BRAND)
    pdf.line(15, 22, 195, 22)
    pdf.set_draw_color(0)
    pdf.set_text_color(0)


def _recipient(pdf, customer, y):
    """Name and address where a windowed envelope shows them (y: first baseline)."""
    pdf.set_font("helvetica", "B", 10)
    lines = _wrap(pdf, customer.name, 80)
    for index, line in enumerate(lines):
        _text(pdf, 115, y + 5 * index, line, 10, "B")
    for index, line in enumerate(customer.address.split(" - ", 1), start=len(lines)):
        _text(pdf, 115, y + 5 * index, line, 10)


def _section_title(pdf, y, text):
    _text(pdf, 15, y, text, 10, "B", _BRAND)
    pdf.set_draw_color(*_BRAND)
    pdf.line(15, y + 1.5, 195, y + 1.5)
    pdf.set_draw_color(0)


def _label_values(pdf, y, rows):
    for index, (label, value) in enumerate(rows):
        _text(pdf, 15, y + 5 * index, label, 8.5, color=_GREY)
        _text(pdf, 52, y + 5 * index, value, 8.5, "B")


def _invoice_pdf(invoice, company_name):
    """One A4 page laid out like an Italian bill."""
    point = invoice.point
    customer = invoice.customer
    pdf = _new_pdf(f"Fattura {invoice.number}", invoice.date, company_name)
    _letterhead(pdf, company_name)
    # The customer code goes right under number and date: the customer guide tells
    # customers to look for it there.
    _text(pdf, 15, 34, f"Fattura n. {invoice.number} del {date_it(invoice.date)}", 12, "B")
    _text(pdf, 15, 40, f"Codice cliente: {customer.code}", 11, "B")
    _text(pdf, 15, 46, f"{'Partita IVA' if customer.is_company else 'Codice fiscale'}: "
                       f"{customer.tax_code}", 9)
    _recipient(pdf, customer, 34)

    pdf.set_fill_color(*_BRAND)
    pdf.rect(15, 56, 180, 9, style="F")
    _text(pdf, 18, 62, "Bolletta gas naturale" if point.is_gas else "Bolletta energia elettrica",
          11, "B", _WHITE)
    _text_right(pdf, 192, 62, f"Periodo dal {date_it(invoice.period_start)} "
                              f"al {date_it(invoice.period_end)}", 9, color=_WHITE)

    pdf.set_fill_color(236, 244, 238)
    pdf.rect(15, 70, 180, 22, style="DF")
    _text(pdf, 20, 80, f"Totale da pagare {money(invoice.total)}", 16, "B")
    _text_right(pdf, 190, 80, f"Scadenza {date_it(invoice.due_date)}", 11, "B")
    _text(pdf, 20, 87.5, f"Modalità di pagamento: {customer.payment_method}", 8.5)

    _section_title(pdf, 102, "Dati della fornitura")
    supply = [
        ("Punto di fornitura",
         f"{point.code} - {'PDR' if point.is_gas else 'POD'} {point.pdr_pod}"),
        ("Indirizzo", point.address),
        ("Offerta", point.contract_data["contract_offer"]),
        ("Tipo di uso", point.use),
        ("Matricola contatore", point.meter_serial),
    ]
    if not point.is_gas:
        supply.append(("Potenza impegnata", f"{common._kw(point.contracted_kw)} kW"))
    _label_values(pdf, 109, supply)

    _section_title(pdf, 144, "Consumi fatturati")
    unit = "Smc" if point.is_gas else "kWh"
    period = f"dal {date_it(invoice.period_start)} al {date_it(invoice.period_end)}"
    consumption = [("Periodo", period),
                   ("Consumo fatturato", f"{number_it(invoice.energy)} {unit}")]
    if invoice.bands:
        f1, f2, f3 = invoice.bands
        consumption.append(("Consumo per fascia",
                            f"F1 {number_it(f1)} kWh - F2 {number_it(f2)} kWh - "
                            f"F3 {number_it(f3)} kWh"))
        consumption.append(("Potenza massima", f"{common._kw(invoice.max_power)} kW"))
    _label_values(pdf, 151, consumption)

    _section_title(pdf, 178, "Sintesi degli importi")
    vat_rate = plans._TARIFFS[(point.commodity, point.business)].vat * 100
    table = invoice.lines + [("Totale imponibile", invoice.taxable),
                             (f"IVA {vat_rate:.0f}%", invoice.vat)]
    y = 185
    pdf.set_draw_color(200)
    for label, amount in table:
        _text(pdf, 15, y, label, 9)
        _text_right(pdf, 195, y, money(amount), 9)
        pdf.line(15, y + 2, 195, y + 2)
        y += 6
    _text(pdf, 15, y + 1, "Totale bolletta", 10, "B")
    _text_right(pdf, 195, y + 1, money(invoice.total), 10, "B")

    _text(pdf, 15, 275, "Per informazioni e reclami: Servizio clienti 0586 000100, "
                        "assistenza@example.it, Area Clienti sul nostro sito.", 7, color=_GREY)
    _text(pdf, 15, 278.5, "Documento dimostrativo con dati di fantasia.", 7, color=_GREY)
    return bytes(pdf.output())


def _document_pdf(document, company_name):
    """A letter to one customer, with an optional table."""
    pdf = _new_pdf(document.title, document.date, company_name)
    _letterhead(pdf, company_name)
    _recipient(pdf, document.customer, 38)
    pdf.set_xy(15, 62)
    pdf.set_font("helvetica", "", 10)
    pdf.cell(0, 5, f"Livorno, {date_it(document.date)}")
    pdf.set_xy(15, 70)
    pdf.cell(0, 5, f"Codice cliente: {document.customer.code}")
    pdf.set_xy(15, 80)
    pdf.set_font("helvetica", "B", 10)
    pdf.multi_cell(180, 5, f"Oggetto: {document.subject}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("helvetica", "", 10)
    for paragraph in document.paragraphs:
        pdf.multi_cell(180, 5, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    if document.table:
        titles, rows = document.table
        width = 180 / len(titles)
        pdf.set_font("helvetica", "B", 9)
        for title in titles:
            pdf.cell(width, 6, title, border=1)
        pdf.ln()
        pdf.set_font("helvetica", "", 9)
        for row in rows:
            for value in row:
                pdf.cell(width, 6, value, border=1)
            pdf.ln()
        pdf.ln(3)
    pdf.ln(6)
    pdf.cell(0, 5, "Cordiali saluti.")
    pdf.ln(10)
    pdf.set_x(120)
    pdf.cell(75, 5, "Il Servizio Clienti", align="C")
    pdf.ln(5)
    pdf.set_x(120)
    pdf.cell(75, 5, company_name, align="C")
    return bytes(pdf.output())


def _form_pdf(form, day, company_name):
    """A form to print and fill in: fields with lines, choices, signature."""
    pdf = _new_pdf(form["title"], day, company_name)
    _letterhead(pdf, company_name)
    pdf.set_xy(15, 30)
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, form["title"].upper())
    pdf.set_xy(15, 40)
    pdf.set_font("helvetica", "", 9.5)
    pdf.multi_cell(180, 5, form["intro"].format(company_name=company_name),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for label in form["fields"]:
        pdf.set_font("helvetica", "", 9.5)
        pdf.cell(80, 8, label)
        y = pdf.get_y() + 6.5
        pdf.line(pdf.get_x(), y, 195, y)
        pdf.ln(8)
    if "choices" in form:
        question, options = form["choices"]
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 9.5)
        pdf.cell(0, 7, question)
        pdf.ln(8)
        pdf.set_font("helvetica", "", 9.5)
        for option in options:
            pdf.rect(pdf.get_x() + 1, pdf.get_y() + 1.2, 3.6, 3.6)
            pdf.set_x(pdf.get_x() + 7)
            pdf.cell(0, 6, option)
            pdf.ln(6)
    if form.get("lines"):
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 9.5)
        pdf.cell(0, 7, form["lines_title"])
        pdf.ln(8)
        for _ in range(form["lines"]):
            y = pdf.get_y() + 6
            pdf.line(15, y, 195, y)
            pdf.ln(7)
    pdf.ln(6)
    pdf.set_font("helvetica", "", 8.5)
    pdf.multi_cell(180, 4.5, form["notes"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)
    pdf.set_font("helvetica", "", 9.5)
    pdf.cell(90, 6, "Luogo e data ______________________")
    pdf.cell(90, 6, "Firma ______________________________", align="R")
    return bytes(pdf.output())


_CUSTOMER_FIELDS = ["Codice cliente", "Nome e cognome o ragione sociale",
                    "Codice fiscale / Partita IVA", "Punto di fornitura (PDR / POD)",
                    "Indirizzo di fornitura", "Telefono", "E-mail"]
_PRIVACY = ("I dati personali sono trattati ai sensi del Regolamento (UE) 2016/679 al solo fine "
            "di gestire la richiesta. Il modulo compilato può essere consegnato agli sportelli, "
            "inviato a assistenza@example.it o allegato a un ticket dell'Area Clienti.")
_FORMS = (
    {
        "title": "Modulo di reclamo",
        "intro": "Con questo modulo può presentare un reclamo scritto o una richiesta di "
                 "informazioni. Le risponderemo per iscritto entro 30 giorni solari dal "
                 "ricevimento, come previsto dalla regolazione ARERA.",
        "fields": _CUSTOMER_FIELDS,
        "choices": ("Argomento del reclamo", ["Fatturazione", "Letture e consumi",
                                              "Contratto e offerta", "Qualità del servizio",
                                              "Altro"]),
        "lines_title": "Descrizione",
        "lines": 6,
        "notes": _PRIVACY,
    },
    {
        "title": "Richiesta di rateizzazione",
        "intro": "Il/La sottoscritto/a chiede di pagare a rate le fatture indicate. La "
                 "rateizzazione è concessa per importi superiori a 50 euro; le rate hanno "
                 "cadenza non inferiore a quella di fatturazione.",
        "fields": _CUSTOMER_FIELDS[:5] + ["Fatture da rateizzare (numero e data)",
                                          "Importo complessivo (euro)", "Numero di rate richieste"],
        "notes": "Sulle rate successive alla prima sono applicati gli interessi al tasso "
                 "ufficiale di riferimento. " + _PRIVACY,
    },
    {
        "title": "Domiciliazione bancaria SEPA",
        "intro": "Mandato per addebito diretto SEPA Core. Con la sottoscrizione del mandato "
                 "il debitore autorizza {company_name} (codice identificativo del creditore "
                 f"IT45ZZZ0000{people.COMPANY_VAT}) a disporre sul suo conto gli addebiti delle "
                 "fatture e la banca a eseguirli.",
        "fields": ["Codice cliente", "Intestatario del conto", "Codice fiscale / Partita IVA",
                   "IBAN", "Banca e filiale", "Firmatario, se non intestatario"],
        "choices": ("Tipo di pagamento", ["Ricorrente", "Singolo"]),
        "notes": "Il debitore ha diritto di essere rimborsato dalla propria banca secondo "
                 "gli accordi e alle condizioni che regolano il rapporto con quest'ultima. "
                 "Il rimborso deve essere richiesto entro 8 settimane dalla data di addebito. "
                 + _PRIVACY,
    },
    {
        "title": "Voltura contratto",
        "intro": "Richiesta di intestare il contratto di fornitura a un nuovo cliente senza "
                 "interruzione del servizio. Allegare un documento di identità del nuovo "
                 "intestatario.",
        "fields": ["Codice cliente uscente", "Cliente uscente", "Nuovo intestatario",
                   "C.F. / P.IVA nuovo intestatario",
                   "Punto di fornitura (PDR / POD)", "Indirizzo di fornitura",
                   "Lettura del contatore alla data della voltura", "Recapito per le fatture"],
        "choices": ("Motivo della voltura", ["Cambio di residenza", "Successione",
                                             "Subentro in locazione", "Altro"]),
        "notes": _PRIVACY,
    },
    {
        "title": "Autocertificazione uso domestico",
        "intro": "Dichiarazione sostitutiva di atto di notorietà (artt. 46 e 47 del D.P.R. "
                 "445/2000). Il/La sottoscritto/a, consapevole delle sanzioni penali previste "
                 "in caso di dichiarazioni mendaci, dichiara che la fornitura sotto indicata "
                 "è destinata a uso domestico.",
        "fields": ["Nome e cognome", "Codice fiscale", "Luogo e data di nascita",
                   "Punto di fornitura (PDR / POD)", "Indirizzo di fornitura"],
        "choices": ("La fornitura serve", ["l'abitazione di residenza anagrafica",
                                           "un'abitazione diversa da quella di residenza"]),
        "notes": "La dichiarazione determina l'applicazione dell'IVA e delle accise previste "
                 "per gli usi domestici. " + _PRIVACY,
    },
)
