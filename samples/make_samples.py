"""Rebuild the generated sample files: measurements.csv and the PDFs in files/.

    .venv/bin/python samples/make_samples.py

The other CSVs of this folder are written by hand. The output is the same on every
run (fixed dates in the PDFs), so the files can stay under version control.
"""
import datetime
import math
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
ROME = ZoneInfo("Europe/Rome")
COMPANY = "Energia Colline Toscane S.p.A. - Via Roma 1 - 57014 Collesalvetti (LI)"
FIXED = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)

# The two days of 2024 when Italy changes clock: 92 and 100 quarter hours.
MEASURED_DAYS = (datetime.date(2024, 3, 31), datetime.date(2024, 10, 27))
MEASURED_POINT = "PR100102"

INVOICES = {
    "FT2024-000101": ("BIANCHI LAURA", "PR100101 (Pdr: 03340009751001)", "05/03/2024",
                      "01/01/2024 - 29/02/2024", "187,40", "25/03/2024"),
    "FT2024-000102": ("BIANCHI LAURA", "PR100102 (Pod: IT001E00751002)", "05/03/2024",
                      "01/01/2024 - 29/02/2024", "96,15", "25/03/2024"),
    "FT2024-000187": ("PANIFICIO DEL TIRRENO S.R.L.", "PR100104 (Pdr: 03340009751004)",
                      "06/02/2024", "01/01/2024 - 31/01/2024", "2.410,77", "26/02/2024"),
    "FT2024-000260": ("FERRARI GIOVANNI", "PR100106 (Pdr: 03340009751006)", "06/05/2024",
                      "01/03/2024 - 30/04/2024", "141,02", "27/05/2024"),
}

DOCUMENTS = {
    "contratto-200103.pdf": (
        "Contratto di fornitura gas e luce",
        ["Cliente: PANIFICIO DEL TIRRENO S.R.L. (codice cliente 200103).",
         "Punti di fornitura: PR100104 (gas, con correttore di volume) e PR100105 "
         "(energia elettrica, 30 kW).",
         "Decorrenza: 01/01/2014. Fatturazione mensile, pagamento con bonifico bancario."]),
    "variazione-prezzi-2024.pdf": (
        "Comunicazione variazione prezzi 2024",
        ["Gentile cliente, dal 1 febbraio 2024 i prezzi della componente energia della "
         "sua offerta cambiano come indicato nella tabella allegata.",
         "Puo' recedere senza penali entro 30 giorni dal ricevimento di questa "
         "comunicazione."]),
}


def quarter_hour_energy(moment):
    """kWh of a home in a quarter hour: low at night, peaks at lunch and dinner."""
    hour = moment.hour + moment.minute / 60
    load = 0.05 + 0.25 * math.exp(-((hour - 13) ** 2) / 2) + 0.45 * math.exp(-((hour - 20) ** 2) / 3)
    return round(load * (1.1 if moment.weekday() >= 5 else 1.0), 3)


def write_measurements():
    lines = ["supply_point_code;timestamp;active_energy_kwh;power_kw"]
    for day in MEASURED_DAYS:
        # Walk the real instants of the local day: in autumn 02:00-02:45 comes twice,
        # in spring it never comes.
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=ROME)
        end = start + datetime.timedelta(days=1)
        instant = start.astimezone(datetime.timezone.utc)
        while instant < end.astimezone(datetime.timezone.utc):
            local = instant.astimezone(ROME)
            energy = quarter_hour_energy(local)
            lines.append(f"{MEASURED_POINT};{local:%Y-%m-%d %H:%M};"
                         f"{energy:.3f};{energy * 4:.3f}".replace(".", ","))
            instant += datetime.timedelta(minutes=15)
    (HERE / "measurements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def new_pdf(title):
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED)
    pdf.set_title(title)
    pdf.set_author("Energia Colline Toscane S.p.A.")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "Energia Colline Toscane S.p.A.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(0, 5, COMPANY, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    return pdf


def write_pdfs():
    folder = HERE / "files"
    folder.mkdir(exist_ok=True)
    for number, (customer, point, date, period, amount, due) in INVOICES.items():
        pdf = new_pdf(f"Fattura n. {number} del {date}")
        for label, value in (("Cliente", customer), ("Punto di fornitura", point),
                             ("Periodo di fatturazione", period),
                             ("Totale da pagare", f"{amount} EUR"), ("Scadenza", due)):
            pdf.cell(60, 7, label)
            pdf.cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
        pdf.output(str(folder / f"{number}.pdf"))
    for name, (title, paragraphs) in DOCUMENTS.items():
        pdf = new_pdf(title)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.output(str(folder / name))
    return len(INVOICES) + len(DOCUMENTS)


if __name__ == "__main__":
    print(f"measurements.csv: {write_measurements()} lines; files/: {write_pdfs()} PDFs")
