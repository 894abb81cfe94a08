"""The session cookie is rewritten when the session changes, not on every page view:
"last seen" moves on at most once a minute, so the idle timeout still holds."""
from views.sessions import SEEN_RESOLUTION


def set_cookie_of(response):
    return [value for name, value in response.headers.items()
            if name == "Set-Cookie" and value.startswith("session=")]


def test_page_views_within_a_minute_leave_the_cookie_alone(client, logged_in):
    point = logged_in.supply_points_in_order().first().code
    client.get(f"/home?punto={point}")
    for url in (f"/home?punto={point}", "/fatture", "/documenti"):
        response = client.get(url)
        assert response.status_code == 200
        assert set_cookie_of(response) == []


def test_a_minute_later_the_cookie_moves_last_seen_on(client, logged_in):
    with client.session_transaction() as session:
        session["seen"] -= SEEN_RESOLUTION + 1
        before = session["seen"]
    response = client.get("/home")
    assert response.status_code == 200
    cookie = set_cookie_of(response)
    assert len(cookie) == 1 and "Expires=" in cookie[0] and "HttpOnly" in cookie[0]
    with client.session_transaction() as session:
        assert session["seen"] > before + SEEN_RESOLUTION


def test_choosing_another_supply_point_is_remembered(client, logged_in):
    gas, electricity = list(logged_in.supply_points_in_order())
    client.get(f"/home?punto={gas.code}")
    response = client.get(f"/home?punto={electricity.code}")
    assert len(set_cookie_of(response)) == 1
    assert f'value="{electricity.code}" selected' in client.get("/home").text
