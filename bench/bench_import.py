"""Throughput and memory of `flask import` on large files, on SQLite or PostgreSQL.

    .venv/bin/python bench/bench_import.py                 # 1,000,000 lines, SQLite
    .venv/bin/python bench/bench_import.py --rows 200000 --tracemalloc
    .venv/bin/python bench/bench_import.py \
        --database-url postgresql://portal:portal@127.0.0.1/bench_import

Builds a throw-away database (SQLite with the portal's pragmas in a temporary folder;
with --database-url the schema `bench_import`, dropped and created again, of a
PostgreSQL database) with a few electricity supply points, writes a
customers file of --customers lines and a measurements file of --rows 15-minute lines
(through the DST change days), imports each twice (the second run finds everything
unchanged) and prints lines/s: wall clock, per CPU second of this process, and on
PostgreSQL per CPU second of this process and its server backend together (read from
/proc: the server must run on this host). CPU seconds are the figures that do not
depend on what else the machine is doing. Peak memory too: --tracemalloc measures the
Python heap peak during the imports (slower); without it the process's peak RSS is shown.
"""
import argparse
import datetime
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.exchange import importer, kinds  # noqa: E402
import models  # noqa: E402
from app import create_app  # noqa: E402


def partita_iva(number):
    """A valid 11-digit partita IVA made from a number from 1 to 9,999,999."""
    digits = f"{number:07d}001"  # the last three: the tax office (001-100)
    total = 0
    for position, digit in enumerate(int(digit) for digit in digits):
        if position % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return f"{digits}{-total % 10}"


def write_files(folder, rows, points, customers):
    """customers.csv (`customers` lines after the bench's own customer),
    supply_points.csv and measurements.csv with `rows` lines."""
    with open(folder / "customers.csv", "w", encoding="utf-8") as handle:
        handle.write("code;name;tax_code;address;email\n100001;BENCH S.R.L.;00743110157;;\n")
        handle.writelines(f"{200000 + number};CLIENTE {number} S.R.L.;"
                          f"{partita_iva(1 + number)};VIA ROMA {number}, 00100 ROMA;"
                          f"cliente{number}@example.com\n" for number in range(customers))
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


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_postgres_schema(url):
    """Drop and create the schema `bench_import` in the URL's database; return the
    URL whose connections work in it. The database must exist, writable by the URL's
    role (`createdb -O portal bench_import` as the server's superuser)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP SCHEMA IF EXISTS bench_import CASCADE")
        admin.execute("CREATE SCHEMA bench_import")
    query = urllib.parse.urlencode({"options": "-c search_path=bench_import"},
                                   quote_via=urllib.parse.quote)
    return f"{url}{'&' if '?' in url else '?'}{query}"


class ServerCpu:
    """CPU seconds of this connection's PostgreSQL backend, from /proc (0 on SQLite)."""

    def __init__(self):
        self.stat = None
        if not isinstance(models.db.obj, models.SqliteDatabase):
            pid = models.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
            self.stat = Path(f"/proc/{pid}/stat")

    def seconds(self):
        if self.stat is None:
            return 0.0
        # utime and stime, fields 14 and 15, after the command name in parentheses.
        fields = self.stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_import(kind, path, arguments, server):
    """Import one file; print its lines/s and return the report."""
    if arguments.tracemalloc:
        tracemalloc.start()
    cpu, server_cpu = time.process_time(), server.seconds()
    report = importer.import_file(kind, path, quiet=not arguments.progress)
    cpu, server_cpu = time.process_time() - cpu, server.seconds() - server_cpu
    heap = ""
    if arguments.tracemalloc:
        heap = f", Python heap peak {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB"
        tracemalloc.stop()
    assert report.ok, report.text()
    both = ""
    if server.stat is not None:
        both = (f" + {server_cpu:.1f} s of the server's = "
                f"{report.lines / (cpu + server_cpu):,.0f} lines per CPU second of both")
    merge = f"; write lock held {report.longest_write:.2f} s at most"
    print(f"  {report.lines:,} lines in {report.seconds:.1f} s = "
          f"{report.rate:,.0f} lines/s ({cpu:.1f} s of CPU = "
          f"{report.lines / cpu:,.0f} lines per CPU second{both}); {report.counts.new:,} new, "
          f"{report.counts.changed:,} changed, {report.counts.unchanged:,} unchanged"
          f"{merge}; peak RSS {peak_rss_mb():.0f} MB{heap}")
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=30)
    parser.add_argument("--customers", type=int, default=100_000,
                        help="lines of the customers file")
    parser.add_argument("--database-url",
                        help="a PostgreSQL database to import into, in a schema of its own "
                             "dropped and created again "
                             "(default: a temporary SQLite database)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="measure the Python heap peak (slower)")
    parser.add_argument("--progress", action="store_true", help="show the progress bar")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as temporary:
        folder = Path(temporary)
        started = time.perf_counter()
        measurements = write_files(folder, arguments.rows, arguments.points,
                                   arguments.customers)
        size_mb = measurements.stat().st_size / 1e6
        print(f"wrote {arguments.rows:,} lines ({size_mb:.1f} MB) and {arguments.customers:,} "
              f"customers in {time.perf_counter() - started:.1f} s; "
              f"peak RSS so far {peak_rss_mb():.0f} MB")

        database_url = f"sqlite:///{folder / 'portal.db'}"
        if arguments.database_url:
            database_url = fresh_postgres_schema(arguments.database_url)
        app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                          "DATABASE_URL": database_url,
                          "FILES_DIR": str(folder / "files")})
        with app.app_context():
            models.db.connect()
            models.init_schema()
            server = ServerCpu()
            for kind, path in (("customers", folder / "customers.csv"),
                               ("supply_points", folder / "supply_points.csv"),
                               ("measurements", measurements)):
                for attempt in ("first import (all new)", "second import (all unchanged)"):
                    if kind == "supply_points" and attempt.startswith("second"):
                        continue
                    print(f"{kind}, {attempt}:")
                    timed_import(kind, path, arguments, server)
            rows = models.Measurement.select().count()
            if arguments.database_url:
                engine = f"PostgreSQL {models.db.server_version}"
            else:
                engine = f"SQLite {models.SqliteDatabase(':memory:').server_version}"
            models.db.close()
        if not arguments.database_url:
            database_mb = sum(path.stat().st_size for path in folder.glob("portal.db*")) / 1e6
            engine += f" ({database_mb:.0f} MB)"
        print(f"{rows:,} measurements in the database; {engine}, "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU")


if __name__ == "__main__":
    main()
