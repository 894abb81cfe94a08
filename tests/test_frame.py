"""The page frame: header, menu, supply-point picker, fragments, headers."""
import pytest


def test_home_shows_welcome_last_access_and_picker(client, logged_in):
    page = client.get("/home")
    assert page.status_code == 200
    assert "Benvenuto <strong>ACQUE CHIARE S.R.L.</strong>" in page.text
    assert "Ultimo accesso: primo accesso" in page.text
    assert "Punto di fornitura:" in page.text
    point = logged_in.supply_points_in_order().first()
    assert f"{point.code} (Pdr: {point.pdr_pod}); VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)" in page.text
    assert "Menu Generale" in page.text
