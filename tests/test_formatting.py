"""The CSV cells of portal/formatting.py: safe for spreadsheets, Italian decimals."""
import pytest

from portal import formatting


@pytest.mark.parametrize("text, cell", [
    ("PR002874", "PR002874"),
    ("=1+2", "'=1+2"),
    ("+39 0586 000000", "'+39 0586 000000"),
    # A number stays a number (it is no formula); anything more after the sign is text.
    ("-5", "-5"),
    ("-12,5", "-12,5"),
    ("-12.5", "-12.5"),
    ("-5+cmd|' /C calc'!A0", "'-5+cmd|' /C calc'!A0"),
    ("-", "'-"),
    ("+5", "'+5"),
    ("=cmd|'/Ccalc'!A0@example.it", "'=cmd|'/Ccalc'!A0@example.it"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tnascosto", "'\tnascosto"),
    ("\r=cmd", "\"'\r=cmd\""),
    ("\x00=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
    ("VIA ROMA; 5", '"VIA ROMA; 5"'),
    ('il "primo"', '"il ""primo"""'),
    ("due\nrighe", '"due\nrighe"'),
    ("a\x00b", "ab"),
    (None, ""),
])
def test_csv_cell_escapes_formulas_and_quotes(text, cell):
    assert formatting.csv_cell(text) == cell


@pytest.mark.parametrize("value, text", [
    (1234.5, "1234,5"), (0.125, "0,125"), (2.0, "2"), (0, "0"), (-1.5, "-1,5"),
    (-0.0001, "0"), (1234567.891, "1234567,891"), (0.1 + 0.2, "0,3"), (None, ""),
])
def test_csv_number_has_a_decimal_comma_and_no_thousands_separator(value, text):
    assert formatting.csv_number(value) == text
