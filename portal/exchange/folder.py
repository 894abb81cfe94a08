"""The nightly drop folder: its files imported in dependency order, moved to done/ or failed/."""
import datetime
import os
import re
from pathlib import Path

import click

from portal.exchange.importer import Report, import_file
from portal.exchange.kinds import KINDS
from portal.exchange.values import FileRefused

_FILE_NAME = re.compile(r"(" + "|".join(KINDS) + r")(?:[-_.][^/]*)?\.csv\Z", re.IGNORECASE)


def kind_of_file(name):
    """The kind a drop-folder file name announces (`invoices-2024-06.csv`), or None."""
    match = _FILE_NAME.match(name)
    return match.group(1).lower() if match else None


def _unique_destination(folder, name, stamp):
    destination = folder / name
    if not destination.exists() and not (folder / f"{name}.report.txt").exists():
        return destination
    stem, suffix = os.path.splitext(name)
    for attempt in range(1, 1000):
        candidate = folder / f"{stem}.{stamp}{'' if attempt == 1 else f'-{attempt}'}{suffix}"
        if not candidate.exists():
            return candidate
    raise click.ClickException(f"cannot find a free name for {name} in {folder}")


def import_folder(folder, quiet=True, echo=click.echo):
    """Import every recognised CSV of a drop folder in dependency order, moving each
    to done/ or failed/ with `<name>.report.txt` beside it. Returns the reports."""
    folder = Path(folder)
    done, failed = folder / "done", folder / "failed"
    done.mkdir(exist_ok=True)
    failed.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    candidates = sorted(entry for entry in folder.iterdir()
                        if entry.is_file() and entry.suffix.lower() == ".csv"
                        and not entry.name.startswith("."))
    order = list(KINDS)
    recognised = sorted((entry for entry in candidates if kind_of_file(entry.name)),
                        key=lambda entry: (order.index(kind_of_file(entry.name)), entry.name))
    unrecognised = [entry for entry in candidates if kind_of_file(entry.name) is None]
    reports = []
    for entry in recognised + unrecognised:
        kind = kind_of_file(entry.name)
        if kind:
            report = import_file(kind, entry, files_dir=folder, quiet=quiet)
        else:
            report = Report("unknown", entry)
            report.refuse(FileRefused(
                f"the file name does not say what it contains: it must start with one of "
                f"{', '.join(KINDS)} (e.g. invoices-2024-06.csv)", line="-"))
        reports.append(report)
        destination = _unique_destination(done if report.ok else failed, report.path.name, stamp)
        os.replace(report.path, destination)
        (destination.parent / f"{destination.name}.report.txt").write_text(
            f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} {report.path}\n{report.text()}",
            encoding="utf-8")
        echo(("ok      " if report.ok else "FAILED  ") + report.summary())
    return reports
