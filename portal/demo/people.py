"""Who the demo customers are: Italian names, places, addresses and tax codes."""
import datetime
from dataclasses import dataclass

# ---------------------------------------------------------------------------
# Italian names, places and addresses
# ---------------------------------------------------------------------------

_SURNAMES = (
    "BIANCHI", "RUSSO", "FERRARI", "ESPOSITO", "ROMANO", "COLOMBO", "RICCI", "MARINO",
    "GRECO", "BRUNO", "GALLO", "CONTI", "DE LUCA", "MANCINI", "COSTA", "GIORDANO",
    "LOMBARDI", "MORETTI", "BARBIERI", "BERTINI", "LAZZERINI", "PARDINI", "NICCOLAI",
    "BARTOLINI", "BALDACCI", "GIANNINI", "FRANCESCHI", "DEL CORSO", "LENZI", "CECCHI",
    "FONTANELLI", "BACCI", "TOGNETTI", "PIERACCINI", "SIMONCINI", "D'ANGELO", "NARDI",
    "GUERRINI", "BARONTINI", "CIAMPI", "MAZZANTI", "TADDEI", "BENVENUTI", "PAOLETTI",
    "MARTELLI", "CAPPELLI", "MENICHETTI", "ROSSI",
)
_MALE_NAMES = (
    "MARIO", "LUCA", "MARCO", "ANDREA", "GIOVANNI", "FRANCESCO", "ALESSANDRO", "STEFANO",
    "PAOLO", "ROBERTO", "LORENZO", "MATTEO", "SIMONE", "FABIO", "MASSIMO", "GIUSEPPE",
    "RICCARDO", "DAVIDE", "FEDERICO", "PIERO",
)
_FEMALE_NAMES = (
    "MARIA", "ANNA", "GIULIA", "FRANCESCA", "CHIARA", "SARA", "LAURA", "ELENA", "SILVIA",
    "PAOLA", "VALENTINA", "MARTINA", "ELISA", "BARBARA", "CRISTINA", "FEDERICA",
    "ALESSANDRA", "GIOVANNA", "LUCIA", "SIMONA",
)
# Birthplaces as codici catastali (Belfiore codes) with their weight: mostly the
# Tuscan provincial capitals, a few people born in the big cities.
_BIRTHPLACES = {
    "E625": 30,  # Livorno
    "G702": 12,  # Pisa
    "D612": 8,   # Firenze
    "E715": 5,   # Lucca
    "I726": 3,   # Siena
    "E202": 3,   # Grosseto
    "A390": 2,   # Arezzo
    "G713": 2,   # Pistoia
    "G999": 2,   # Prato
    "F023": 2,   # Massa
    "H501": 5,   # Roma
    "F839": 4,   # Napoli
    "F205": 3,   # Milano
    "D969": 2,   # Genova
    "A944": 2,   # Bologna
}


@dataclass(frozen=True)
class _Comune:
    name: str
    province: str
    caps: tuple
    phone_prefix: str
    weight: int


# Mostly the Livorno and Pisa area around Collesalvetti, where the utility is.
_COMUNI = (
    _Comune("COLLESALVETTI", "LI", ("57014",), "0586", 14),
    _Comune("LIVORNO", "LI", ("57121", "57122", "57123", "57124", "57125", "57126",
                              "57127", "57128"), "0586", 16),
    _Comune("ROSIGNANO MARITTIMO", "LI", ("57016",), "0586", 5),
    _Comune("CECINA", "LI", ("57023",), "0586", 4),
    _Comune("PIOMBINO", "LI", ("57025",), "0565", 3),
    _Comune("PISA", "PI", ("56121", "56122", "56123", "56124", "56125", "56127"), "050", 8),
    _Comune("CASCINA", "PI", ("56021",), "050", 3),
    _Comune("PONTEDERA", "PI", ("56025",), "0587", 3),
    _Comune("FAUGLIA", "PI", ("56043",), "050", 3),
    _Comune("VOLTERRA", "PI", ("56048",), "0588", 1),
    _Comune("LUCCA", "LU", ("55100",), "0583", 2),
    _Comune("VIAREGGIO", "LU", ("55049",), "0584", 2),
    _Comune("FIRENZE", "FI", ("50129", "50134", "50136", "50142"), "055", 3),
    _Comune("EMPOLI", "FI", ("50053",), "0571", 2),
    _Comune("SIENA", "SI", ("53100",), "0577", 1),
    _Comune("GROSSETO", "GR", ("58100",), "0564", 1),
    _Comune("AREZZO", "AR", ("52100",), "0575", 1),
    _Comune("PRATO", "PO", ("59100",), "0574", 1),
)
_COMUNI_BY_NAME = {comune.name: comune for comune in _COMUNI}
# Second homes are at the seaside.
_SEASIDE = ("ROSIGNANO MARITTIMO", "CECINA", "PIOMBINO", "VIAREGGIO")
# The provincial office code (digits 8-10 of a partita IVA) is the ISTAT province code.
_VAT_OFFICES = {"LI": "049", "PI": "050", "LU": "046", "FI": "048", "SI": "052",
                "GR": "053", "AR": "051", "PO": "100"}
_STREETS = (
    "VIA ROMA", "VIA GARIBALDI", "VIA MAZZINI", "VIA DEI POGGI", "VIA DELLA REPUBBLICA",
    "VIA G. MATTEOTTI", "VIALE G. CARDUCCI", "VIA DEL MARE", "PIAZZA DELLA VITTORIA",
    "VIA DELLE COLLINE", "VIA AURELIA", "VIA PISANA", "VIA DEL BOSCO",
    "VIA SAN FRANCESCO", "VIA DEI MILLE", "VIA CAVOUR", "VIA A. GRAMSCI",
    "VIA XX SETTEMBRE", "VIA DELLA STAZIONE", "VIA DEI GIGLI", "VIA DELLE VIOLE",
    "VIA DI SALVIANO", "VIA DELLE SORGENTI", "VIA DON MINZONI", "VIA DELLA PACE",
    "VIA DEL PONTE", "VIA DEI PINI", "VIA S. ALLENDE",
)
_BUSINESS_STREETS = (
    "VIA DEL LAVORO", "VIA DELL'ARTIGIANATO", "VIA DELLE INDUSTRIE", "VIA E. FERMI",
    "VIA A. VOLTA", "VIA G. MARCONI", "VIA AURELIA", "VIA PROVINCIALE PISANA",
    "VIA DEL COMMERCIO", "VIA DELLE OFFICINE",
)
_MOBILE_PREFIXES = ("320", "328", "329", "333", "335", "338", "339", "340", "345", "347",
                    "348", "349", "366", "380", "388", "392")
# Business activities with the ranges of their yearly gas (Smc) and electricity (kWh).
_ACTIVITIES = (
    ("PANIFICIO", (8000, 25000), (20000, 60000)),
    ("TRATTORIA", (4000, 12000), (15000, 40000)),
    ("AUTOFFICINA", (2000, 6000), (10000, 30000)),
    ("FERRAMENTA", (1200, 3000), (6000, 15000)),
    ("IMMOBILIARE", (1000, 2500), (3000, 8000)),
    ("HOTEL", (10000, 30000), (40000, 120000)),
    ("CASEIFICIO", (8000, 20000), (40000, 100000)),
    ("LAVANDERIA", (6000, 15000), (20000, 50000)),
    ("FALEGNAMERIA", (1500, 4000), (15000, 40000)),
    ("TIPOGRAFIA", (1500, 4000), (15000, 45000)),
    ("CARROZZERIA", (3000, 8000), (15000, 35000)),
    ("STUDIO TECNICO", (800, 2000), (4000, 10000)),
    ("ORTOFRUTTA", (1000, 2500), (10000, 25000)),
    ("AGRITURISMO", (3000, 9000), (15000, 35000)),
)
_QUALIFIERS = ("DEL TIRRENO", "DELLE COLLINE", "VALDERA", "SAN MARCO", "LA TORRE",
               "IL POGGIO", "DEL CENTRO", "DUE MARI")


# ---------------------------------------------------------------------------
# Tax codes
# ---------------------------------------------------------------------------

_CF_MONTHS = "ABCDEHLMPRST"
# Values of the characters in odd positions (1st, 3rd, ...): digit d counts as the
# d-th letter.
_CF_ODD_VALUES = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14,
                  16, 10, 22, 25, 24, 23)


def _cf_letters(text):
    letters = [char for char in text.upper() if "A" <= char <= "Z"]
    consonants = [char for char in letters if char not in "AEIOU"]
    vowels = [char for char in letters if char in "AEIOU"]
    return consonants, vowels


def _codice_fiscale(surname, name, birth_date, female, comune_code):
    """The 16-character codice fiscale of a person (no omocodia handling)."""
    consonants, vowels = _cf_letters(surname)
    surname_part = "".join(consonants + vowels + ["X"] * 3)[:3]
    consonants, vowels = _cf_letters(name)
    if len(consonants) >= 4:
        # A first name with four or more consonants skips the second one.
        consonants = [consonants[0], consonants[2], consonants[3]]
    name_part = "".join(consonants + vowels + ["X"] * 3)[:3]
    day = birth_date.day + (40 if female else 0)
    body = (f"{surname_part}{name_part}{birth_date.year % 100:02d}"
            f"{_CF_MONTHS[birth_date.month - 1]}{day:02d}{comune_code}")
    total = 0
    for position, char in enumerate(body):
        value = int(char) if char.isdigit() else ord(char) - ord("A")
        total += _CF_ODD_VALUES[value] if position % 2 == 0 else value
    return body + chr(ord("A") + total % 26)


def _partita_iva(serial, office):
    """11 digits: company serial (7), provincial office (3), Luhn check digit."""
    digits = f"{serial:07d}{office}"
    total = 0
    for position, char in enumerate(digits):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return digits + str((10 - total % 10) % 10)


COMPANY_VAT = _partita_iva(1843270, "049")
# The fixed customers' tax codes, for the README and the tests.
HOUSEHOLD_TAX_CODE = _codice_fiscale("ROSSI", "MARIO", datetime.date(1968, 4, 12), False, "E625")
COMPANY_TAX_CODE = _partita_iva(1487305, "049")
PREVIOUS_HOLDER_TAX_CODE = _codice_fiscale("BIANCHI", "LUCIA", datetime.date(1974, 9, 23), True,
                                           "E625")
