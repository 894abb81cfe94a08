"""Throughput and memory of `flask import measurements` on a large file.

    .venv/bin/python bench/bench_import.py                 # 1,000,000 lines
    .venv/bin/python bench/bench_import.py --rows 200000 --tracemalloc

Builds a throw-away SQLite database (same pragmas as the portal) with a few
electricity supply points, writes a measurements file of --rows 15-minute lines
(through the DST change days), imports it twice (the second run finds everything
unchanged) and prints lines/s (wall clock, and per CPU second: the figure that does not
depend on what else the machine is doing) and peak memory. --tracemalloc measures the Python
heap peak during the imports (slower); without it the process's peak RSS is shown.
"""
import argparse
import datetime
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.exchange import importer, kinds  # noqa: E402
import models  # noqa: E402
from app import create_app  # noqa: E402


def write_files(folder, rows, points):
    """customers.csv, supply_points.csv and measurements.csv with `rows` lines."""
    (folder / "customers.csv").write_text(
        "code;name;tax_code\n100001;BENCH S.R.L.;00743110157\n", encoding="utf-8")
    codes = [f"PB{number:06d}" for number in range(points)]
    with open(folder / "supply_points.csv", "w", encoding="utf-8") as handle:
        handle.write("code;customer_code;commodity;pdr_pod;address\n")
        for number, code in enumerate(codes):
            handle.write(f"{code};100001;electricity;IT001E{number:08d};VIA ROMA {number}\n")
    per_point = -(-rows // points)
    start = datetime.datetime(2023, 1, 1, tzinfo=models.ROME).timestamp()
    written = 0
    with open(folder / "measurements.csv", "w", encoding="utf-8") as handle:
        handle.write("supply_point_code;timestamp;active_energy_kwh;power_kw\n")
        for code in codes:
            lines = []
            for step in range(min(per_point, rows - written)):
                local = datetime.datetime.fromtimestamp(start + step * 900, models.ROME)
                energy = (step * 7919) % 1000 / 1000
                # Decimal comma for the energy, point for the power: both are allowed.
                lines.append(f"{code};{local:%Y-%m-%d %H:%M};{energy:.3f};{energy * 4:.3f}\n"
                             .replace(".", ",", 1))
                if len(lines) == 10000:
                    handle.writelines(lines)
                    lines.clear()
            handle.writelines(lines)
            written += min(per_point, rows - written)
    return folder / "measurements.csv"


def time_the_merge():
    """Wrap the merge (the only part holding the write lock) to time it."""
    original = kinds.Kind.merge
    timings = []

    def timed(kind, staging, counts):
        started = time.perf_counter()
        try:
            return original(kind, staging, counts)
        finally:
            timings.append(time.perf_counter() - started)

    kinds.Kind.merge = timed
    return timings


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=30)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="measure the Python heap peak (slower)")
    parser.add_argument("--progress", action="store_true", help="show the progress bar")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as temporary:
        folder = Path(temporary)
        started = time.perf_counter()
        measurements = write_files(folder, arguments.rows, arguments.points)
        size_mb = measurements.stat().st_size / 1e6
        print(f"wrote {arguments.rows:,} lines ({size_mb:.1f} MB) in "
              f"{time.perf_counter() - started:.1f} s; peak RSS so far {peak_rss_mb():.0f} MB")

        merges = time_the_merge()
        app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                          "DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
                          "FILES_DIR": str(folder / "files")})
        with app.app_context():
            models.db.connect()
            models.init_schema()
            for kind in ("customers", "supply_points"):
                assert importer.import_file(kind, folder / f"{kind}.csv").ok
            for attempt in ("first import (all new)", "second import (all unchanged)"):
                if arguments.tracemalloc:
                    tracemalloc.start()
                cpu = time.process_time()
                report = importer.import_file("measurements", measurements,
                                              quiet=not arguments.progress)
                cpu = time.process_time() - cpu
                heap = ""
                if arguments.tracemalloc:
                    heap = f", Python heap peak {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB"
                    tracemalloc.stop()
                assert report.ok, report.text()
                print(f"{attempt}: {report.lines:,} lines in {report.seconds:.1f} s = "
                      f"{report.rate:,.0f} lines/s ({cpu:.1f} s of CPU = "
                      f"{report.lines / cpu:,.0f} lines per CPU second); {report.counts.new:,} new, "
                      f"{report.counts.changed:,} changed, {report.counts.unchanged:,} unchanged"
                      f"; merge (write lock held) {merges[-1]:.1f} s"
                      f"; peak RSS {peak_rss_mb():.0f} MB{heap}")
            rows = models.Measurement.select().count()
            models.db.close()
        database_mb = sum(path.stat().st_size for path in folder.glob("portal.db*")) / 1e6
        print(f"{rows:,} measurements in the database ({database_mb:.0f} MB); "
              f"SQLite {models.SqliteDatabase(':memory:').server_version}, "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU")


if __name__ == "__main__":
    main()
