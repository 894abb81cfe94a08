"""Races: simultaneous submissions through a real threaded server, and a customer's
delete against the acquisition."""
import csv
import datetime
import http.client
import re
import threading
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest

from portal import acquisition
import models
from portal import readings
from conftest import PASSWORD
from models import ReadingWindow, SelfReading


def exported_rows(directory):
    rows = []
    for path in sorted(directory.glob("readings-*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle, delimiter=";"))
    return rows


class Browser:
    """A cookie-keeping HTTP client for the live server (CSRF is on there)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path):
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return response.read().decode()

    @staticmethod
    def csrf_token(page):
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def login(self, code):
        page = self.get("/login")
        token = self.csrf_token(page)
        data = urllib.parse.urlencode({"code": code, "password": PASSWORD, "csrf_token": token})
        with self.opener.open(self.base_url + "/login", data.encode(), timeout=10) as response:
            assert "Benvenuto" in response.read().decode()

    def cookie_header(self):
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)


def test_fifty_simultaneous_submissions_leave_one_reading(live_server, customer):
    gas_point = customer.supply_points_in_order().first()
    ReadingWindow.create(start_at=datetime.datetime(2010, 2, 11, 8),
                         end_at=datetime.datetime(2099, 2, 14, 22))
    browser = Browser(live_server.url)
    browser.login(customer.code)
    form = browser.get(f"/autolettura/nuova?punto={gas_point.code}")
    token = browser.csrf_token(form)
    cookie = browser.cookie_header()
    host, port = live_server.url.removeprefix("http://").split(":")
    barrier = threading.Barrier(50)
    answers = []

    def submit(number):
        body = urllib.parse.urlencode({"punto": gas_point.code, "csrf_token": token,
                                       "meter_reading": str(45000 + number),
                                       "corrector_reading": "1"})
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        barrier.wait()
        connection.request("POST", "/autolettura", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
            "HX-Request": "true", "HX-Target": "reading-form"})
        response = connection.getresponse()
        answers.append((response.status, response.read().decode()))
        connection.close()

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [422] * 49
    refused = [body for status, body in answers if status == 422]
    assert all("è possibile inserire una sola lettura al giorno" in body for body in refused)
    assert SelfReading.select().where(SelfReading.supply_point == gas_point).count() == 1


@pytest.mark.slow
def test_delete_raced_against_acquisition_never_both(app, customer, tmp_path):
    """Many rounds of a customer's delete and an acquisition at the same moment:
    each reading ends up either deleted and in no file, or acquired and in exactly one."""
    gas_point = customer.supply_points_in_order().first()
    export_dir = tmp_path / "race"
    outcomes = {"deleted": 0, "acquired": 0}
    day = datetime.date(2000, 1, 1)
    for _ in range(300):
        reading = SelfReading.create(supply_point=gas_point, reading_date=day, meter_reading=1,
                                     corrector_reading=1)
        barrier = threading.Barrier(2)
        results = {}

        def delete():
            with models.db.connection_context():
                barrier.wait()
                results["delete"] = readings.delete_pending(reading.id, customer.id)

        def acquire():
            with models.db.connection_context():
                barrier.wait()
                results["run"] = acquisition.acquire(export_dir)

        threads = [threading.Thread(target=delete), threading.Thread(target=acquire)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        deleted, seen = results["delete"]
        if deleted:
            assert results["run"] is None
            assert SelfReading.get_or_none(SelfReading.id == reading.id) is None
            outcomes["deleted"] += 1
        else:
            assert seen.status == SelfReading.ACQUIRED
            assert results["run"].reading_count == 1
            outcomes["acquired"] += 1
        day += datetime.timedelta(days=1)

    rows = exported_rows(export_dir)
    exported_days = [row["reading_date"] for row in rows]
    remaining = {reading.reading_date.isoformat() for reading in SelfReading.select()}
    assert len(exported_days) == len(set(exported_days)) == outcomes["acquired"]
    assert set(exported_days) == remaining
    assert outcomes["deleted"] + outcomes["acquired"] == 300


def test_delete_over_http_racing_acquisition_answers_the_truth(app, client, logged_in, tmp_path):
    """Through the view: the answer is an empty 200 (deleted) or the row "Acquisita"
    (too late), never an error page."""
    gas_point = logged_in.supply_points_in_order().first()
    export_dir = tmp_path / "race-http"
    day = datetime.date(2001, 1, 1)
    for _ in range(60):
        reading = SelfReading.create(supply_point=gas_point, reading_date=day, meter_reading=1,
                                     corrector_reading=1)
        barrier = threading.Barrier(2)
        results = {}

        def delete():
            barrier.wait()
            results["response"] = client.post(f"/autolettura/{reading.id}/cancella",
                                              headers={"HX-Request": "true"})

        def acquire():
            with models.db.connection_context():
                barrier.wait()
                results["run"] = acquisition.acquire(export_dir)

        threads = [threading.Thread(target=delete), threading.Thread(target=acquire)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        response = results["response"]
        assert response.status_code == 200
        if response.text == "":
            assert results["run"] is None
            assert SelfReading.get_or_none(SelfReading.id == reading.id) is None
        else:
            assert "Acquisita" in response.text and "reading-delete" not in response.text
            assert results["run"].reading_count == 1
        day += datetime.timedelta(days=1)
    rows = exported_rows(export_dir) if export_dir.exists() else []
    assert len(rows) == SelfReading.select().count()
