"""Benchmark of Misure elettriche: chart fragment and CSV export of a year of 15-minute
data, on a database holding only the point and on one crowded with other points and
years. Both must give the same figures: the queries read only the point's range.

    .venv/bin/python bench/bench_measurements.py [--points 20] [--years 2] [--runs 9]

Prints a Markdown table (median and p95 in ms, peak memory of the export in MiB) to
paste into bench/README.md.
"""
import argparse
import datetime
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import timebands  # noqa: E402
import models  # noqa: E402
from app import create_app  # noqa: E402
from portal.passwords import hash_password  # noqa: E402

PASSWORD = "benchmark-password"
POINT = "PR000001"
YEAR = 2023  # not a leap year: 365 days x 96 = 35,040 intervals
INTERVAL = 900


def make_app(directory):
    application = create_app({
        "TESTING": True,
        "SECRET_KEY": "bench",
        "DATABASE_URL": f"sqlite:///{directory / 'bench.db'}",
        "FILES_DIR": str(directory / "files"),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "BASE_URL": "http://127.0.0.1",
    })
    with application.app_context():
        models.db.connect(reuse_if_open=True)
        models.init_schema()
    return application


def intervals(first_year, last_year, seed):
    """15-minute rows (timestamp, kWh, kW) of whole years, shaped like an office."""
    rng = random.Random(seed)
    start = timebands.midnight_timestamp(datetime.date(first_year, 1, 1))
    end = timebands.midnight_timestamp(datetime.date(last_year + 1, 1, 1))
    for timestamp in range(start, end, INTERVAL):
        hour = timestamp // 3600 % 24
        base = 0.8 + 2.5 * math.exp(-((hour - 11) ** 2) / 18)
        energy = round(base * rng.uniform(0.7, 1.3) / 4, 3)
        yield timestamp, energy, round(energy * 4, 3)


def load(supply_point, rows):
    """Bulk insert through the DB-API (Peewee builds SQL text per batch: too slow here)."""
    connection = models.db.connection()
    with models.db.atomic():
        connection.executemany(
            "INSERT INTO measurement (supply_point_id, timestamp, active_energy_kwh, power_kw) "
            "VALUES (?, ?, ?, ?)",
            ((supply_point.id, timestamp, energy, power) for timestamp, energy, power in rows))


def summary(samples):
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


YEAR_RANGE = f"dal={YEAR}-01-01&al={YEAR}-12-31"
FRAGMENTS = {
    "chart fragment, 7 days (15 min)": f"dal={YEAR}-03-06&al={YEAR}-03-12",
    "chart fragment, 31 days (hourly)": f"dal={YEAR}-03-01&al={YEAR}-03-31",
    "chart fragment, 1 year (daily)": YEAR_RANGE,
}
EXPORT = "CSV export, 1 year"
HTMX = {"HX-Request": "true", "HX-Target": "measurements-data"}


class Setup:
    """One app on its own database file, with the logged-in client."""

    def __init__(self, application, database):
        self.app = application
        self.database = database
        self.client = application.test_client()

    def activate(self):
        # models.db is one proxy for the process: point it at this setup's database.
        models.db.initialize(self.database)

    def fragment(self, query):
        response = self.client.get(f"/misure?punto={POINT}&{query}", headers=HTMX)
        assert response.status_code == 200 and b"<html" not in response.data, response.status

    def export(self):
        response = self.client.get(f"/misure/csv?punto={POINT}&{YEAR_RANGE}", buffered=False)
        assert response.status_code == 200, response.status
        size = lines = 0
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n")
        response.close()
        return size, lines - 1



def build(directory, other_points, other_years):
    """A database with the measured point (three years) and `other_points` other
    points with `other_years` years each."""
    directory.mkdir()
    application = make_app(directory)
    database = models.db.obj
    with application.app_context():
        customer = models.Customer.create(
            code="654321", name="BENCH S.R.L.", tax_code="01234567897",
            registered_at=models.utcnow(), password_hash=hash_password(PASSWORD))
        point = models.SupplyPoint.create(
            code=POINT, customer=customer, commodity="electricity",
            pdr_pod="IT001E00000001", address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)")
        load(point, intervals(YEAR - 1, YEAR + 1, seed=1))
        for number in range(other_points):
            other = models.Customer.create(code=f"{700000 + number}", name=f"ALTRO {number}",
                                           tax_code="RSSMRA80A01H501U")
            other_point = models.SupplyPoint.create(
                code=f"PR9{number:05d}", customer=other, commodity="electricity",
                pdr_pod=f"IT001E9{number:07d}", address="VIA ROMA 1")
            load(other_point, intervals(YEAR - other_years + 1, YEAR, seed=100 + number))
        rows = models.Measurement.select().count()
        models.db.close()
    setup = Setup(application, database)
    setup.activate()
    response = setup.client.post("/login", data={"code": "654321", "password": PASSWORD})
    assert response.status_code == 303, response.status
    return setup, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20, help="other electricity points")
    parser.add_argument("--years", type=int, default=2, help="years of data of each other point")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per measure")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        alone, alone_rows = build(Path(directory) / "alone", 0, 0)
        crowded, crowded_rows = build(Path(directory) / "crowded", arguments.points, arguments.years)
        loaded = time.perf_counter() - started
        setups = {"alone": alone, "crowded": crowded}
        samples = {name: {measure: [] for measure in [*FRAGMENTS, EXPORT]} for name in setups}
        for setup in setups.values():  # warm-up: templates, plotly validators
            setup.activate()
            for query in FRAGMENTS.values():
                setup.fragment(query)
            size, lines = setup.export()
        # Runs alternate between the two databases, so a busy moment of the machine
        # weighs on both alike.
        for _ in range(arguments.runs):
            for name, setup in setups.items():
                setup.activate()
                for measure, query in FRAGMENTS.items():
                    began = time.perf_counter()
                    setup.fragment(query)
                    samples[name][measure].append(time.perf_counter() - began)
                began = time.perf_counter()
                setup.export()
                samples[name][EXPORT].append(time.perf_counter() - began)
        # Memory separately: tracemalloc slows Python down several times.
        peaks = {}
        for name, setup in setups.items():
            setup.activate()
            tracemalloc.start()
            setup.export()
            peaks[name] = tracemalloc.get_traced_memory()[1] / 2 ** 20
            tracemalloc.stop()

    print(f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}; {arguments.runs} runs "
          "per measure, alternating between the two databases.")
    print(f"Measured point: {lines:,} intervals in {YEAR} ({size / 2 ** 20:.1f} MiB of CSV), "
          f"three years in the database. Alone: {alone_rows:,} rows; crowded: "
          f"{crowded_rows:,} rows ({arguments.points} other points x {arguments.years} years). "
          f"Built in {loaded:.0f} s.\n")
    print("| measure | point alone: median / p95 | crowded database: median / p95 |")
    print("|---|---|---|")
    for measure in [*FRAGMENTS, EXPORT]:
        first = summary(samples["alone"][measure])
        second = summary(samples["crowded"][measure])
        print(f"| {measure} | {first[0]:.0f} / {first[1]:.0f} ms | {second[0]:.0f} / {second[1]:.0f} ms |")
    print(f"| CSV export, peak memory (tracemalloc) | {peaks['alone']:.2f} MiB "
          f"| {peaks['crowded']:.2f} MiB |")


if __name__ == "__main__":
    main()
