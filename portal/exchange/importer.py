"""The import of one file of the billing system: all of it, or nothing.

How a file is imported, whatever its size:
1. Up front, without touching the database: the whole file must decode as UTF-8 and
   the header must be `;`-separated with the kind's columns. Otherwise the file is
   refused with a message that says what was expected.
2. One streaming pass checks every line and copies the good ones, in batches, into a
   temporary staging table of this connection (SQLite keeps it in its temp file, not
   in the portal's database, so the portal's writers are never blocked meanwhile).
   Bad lines are collected (line, column, reason) and the pass goes on to the end.
3. The staging table's primary key is the natural key: a line repeating the key of
   an earlier line is a bad line too ("same ... as line N").
4. Only a file without bad lines is merged: one transaction, one INSERT ... SELECT
   ... ON CONFLICT DO UPDATE per file (reading windows and outcomes, a handful of
   rows, row by row), which updates a row only when something differs, so importing
   the same file twice changes nothing. Files named by the
   lines (invoice PDFs, documents) are published inside the same transaction.
   Measurements, millions of lines a file, are merged in short transactions instead
   and shown all at once (batched.py); the report says the longest write-lock hold.
Memory stays flat: rows travel in batches, only the reference codes (customers,
supply points) are held in memory, and the report keeps at most MAX_REPORTED errors.
"""
import codecs
import csv
import io
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import current_app
from peewee import CompositeKey, DatabaseError, IntegerField, Model

import models
from portal import notices
from portal.exchange.batched import WriteTimer, merge_measurements
from portal.exchange.files import FileStore
from portal.exchange.kinds import KINDS, all_equal, is_sqlite
from portal.exchange.values import SEPARATOR, FileRefused, LineError
from portal.formatting import csv_cell

MAX_REPORTED = 1000      # errors listed in a report; the rest are only counted
BATCH_ROWS = 2000        # rows staged per statement
SCAN_CHUNK = 1 << 18     # bytes read at a time by the encoding check


@dataclass
class Counts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


@dataclass
class Report:
    """What happened to one file: the counts, or every bad line (the first
    MAX_REPORTED problems listed, all of them counted)."""
    kind: str
    path: Path
    lines: int = 0
    bad_lines: int = 0
    problem_count: int = 0
    problems: list = field(default_factory=list)
    refused: bool = False
    counts: Counts = field(default_factory=Counts)
    files_copied: int = 0
    seconds: float = 0.0
    # The longest time the merge held the database's write lock at once.
    longest_write: float = 0.0

    @property
    def ok(self):
        return self.problem_count == 0

    def add(self, line, problems):
        self.bad_lines += 1
        for column, reason in problems:
            self.problem_count += 1
            if len(self.problems) < MAX_REPORTED:
                self.problems.append((line, column, reason))

    def refuse(self, refused):
        self.refused = True
        self.add(refused.line, [(refused.column, refused.reason)])

    @property
    def rate(self):
        return self.lines / self.seconds if self.seconds else 0.0

    def summary(self):
        name = self.path.name
        if self.refused:
            return f"{name} ({self.kind}): REFUSED, nothing imported: {self.problems[0][2]}"
        if not self.ok:
            return (f"{name} ({self.kind}): REJECTED, nothing imported: {self.bad_lines} bad "
                    f"line(s) out of {self.lines}")
        counts = self.counts
        text = (f"{name} ({self.kind}): imported {self.lines} line(s) in {self.seconds:.1f} s "
                f"({self.rate:,.0f} lines/s): {counts.new} new, {counts.changed} changed, "
                f"{counts.unchanged} unchanged")
        if self.files_copied:
            text += f"; {self.files_copied} file(s) copied"
        return text + f"; write lock held {self.longest_write:.3f} s at most"

    def text(self):
        """The report: summary, then one line per problem."""
        lines = [self.summary()]
        if not self.ok:
            if not self.refused:
                lines.append(f"{self.problem_count} problem(s) on {self.bad_lines} line(s); "
                             "fix them and send the whole file again.")
            lines.append("line;column;reason")
            # Repeated keys are found batch by batch, after the lines checked meanwhile.
            in_order = sorted(self.problems,
                              key=lambda problem: problem[0] if isinstance(problem[0], int) else 0)
            # A reason quotes the bad value: quoted and neutralised like any CSV cell
            # a person opens, so neither a ';' nor a leading '=' in it does harm.
            lines.extend(f"{line};{column};{csv_cell(reason)}"
                         for line, column, reason in in_order)
            if self.problem_count > len(self.problems):
                lines.append(f"... and {self.problem_count - len(self.problems)} more problem(s) "
                             "not listed")
        return "\n".join(lines) + "\n"


def check_encoding(path):
    """Refuse a file that is not entirely UTF-8 text, saying where and what was
    expected. Reading it once costs little next to the import itself."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRefused("the file is UTF-16: it must be UTF-8 (save it as \"CSV UTF-8\")")
        if not head:
            raise FileRefused("the file is empty: expected a header line and the data lines")
        handle.seek(0)
        while True:
            chunk = handle.read(SCAN_CHUNK)
            if b"\x00" in chunk:
                line += chunk[:chunk.index(b"\x00")].count(b"\n")
                raise FileRefused("the file contains NUL bytes: it is not UTF-8 text "
                                  "(UTF-16 or a binary file?); expected a UTF-8 CSV", line=line)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                line += error.object[:error.start].count(b"\n")
                byte = error.object[error.start]
                raise FileRefused(f"the file is not UTF-8: line {line} has the byte 0x{byte:02X} "
                                  "(Windows-1252 or Latin-1?); expected UTF-8 "
                                  "(save it as \"CSV UTF-8\")", line=line) from None
            if not chunk:
                return
            line += chunk.count(b"\n")


class _Progress:
    """A progress bar over the bytes read, on stderr; nothing when quiet."""

    def __init__(self, label, length, quiet):
        self.bar = None
        if not quiet:
            self.bar = click.progressbar(length=length, label=label, file=sys.stderr,
                                         show_pos=False, show_percent=True, show_eta=True)
            self.bar.__enter__()
        self.done = 0

    def to(self, position):
        if self.bar is not None and position > self.done:
            self.bar.update(position - self.done)
            self.done = position

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def import_file(kind_name, path, files_dir=None, quiet=True):
    """Import one file of the contract into the bound database; return its Report.
    files_dir: where the files named by the lines are (default: the file's folder)."""
    path = Path(path)
    started = time.monotonic()
    report = Report(kind_name, path)
    files = FileStore(files_dir or path.parent, current_app.config["FILES_DIR"])
    kind = KINDS[kind_name](files)
    try:
        check_encoding(path)
        with open(path, "rb") as binary:
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, delimiter=SEPARATOR)
            try:
                header = next(reader, None)
            except csv.Error as error:
                raise FileRefused(f"the header cannot be read: {error}") from None
            if not header or not any(name.strip() for name in header):
                raise FileRefused("the first line must be the header: expected "
                                  f"(';'-separated, any order): {kind.expected_columns()}")
            kind.set_header(header)
            kind.start()
            progress = _Progress(f"{path.name} ({kind_name})", os.path.getsize(path), quiet)
            try:
                _stage_and_merge(kind, reader, report, files, progress, binary)
            finally:
                progress.close()
    except FileRefused as refused:
        report.refuse(refused)
    except (DatabaseError, OSError) as error:
        if models.is_disk_full(error):
            raise  # every later file would meet the same full disk: the caller stops
        # Rolled back with its transaction; a nightly run goes on with the next file.
        report.refuse(FileRefused(f"the import failed and nothing was kept: {error}", line="-"))
    finally:
        files.discard()
    report.seconds = time.monotonic() - started
    report.files_copied = files.copied if report.ok else 0
    models.audit("data_import", detail=report.summary())
    return report


def _staging_model(kind):
    """A temporary table for the good lines of one file; its unique index on the
    natural key is what finds the lines that repeat a key."""
    attributes = {"line": IntegerField()}
    attributes.update(kind.staging_fields())
    table_name = f"import_{kind.name}_{uuid.uuid4().hex[:8]}"
    # The key is the primary key of a WITHOUT ROWID table: one B-tree, filled in
    # the order of the file (usually the key's order), is the cheapest to write.
    attributes["Meta"] = type("Meta", (), {"database": models.db, "temporary": True,
                                           "table_name": table_name,
                                           "primary_key": CompositeKey(*kind.key),
                                           "without_rowid": is_sqlite()})
    return type(f"Staging_{kind.name}", (Model,), attributes)


def _staging_transaction():
    """A transaction for the staging table only: on SQLite a DEFERRED one, so the
    portal's database is never locked for writing while a file is checked."""
    if is_sqlite():
        return models.db.atomic(lock_type="DEFERRED")
    return models.db.atomic()


class _Stager:
    """Writes good lines to the staging table in batches; a line whose key is
    already staged is reported as a repeat of the line that has it."""

    def __init__(self, kind, staging, report):
        self.kind, self.staging, self.report = kind, staging, report
        names = [name for name, _ in kind.staging_fields()]
        columns = [staging.line] + [getattr(staging, name) for name in names]
        self.sql, _ = (staging
                       .insert_many([[None] * len(columns)], fields=columns)
                       .on_conflict_ignore()
                       .sql())
        self.copy_sql = None if is_sqlite() else _copy_statement(staging, columns)
        # Positions of the key in a staged row (after the line number).
        self.key_positions = [1 + names.index(name) for name in kind.key]
        self.rows = []

    def add(self, row):
        self.rows.append(row)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        with _staging_transaction():
            if self.copy_sql is None or not self._copied():
                cursor = models.db.cursor()
                cursor.executemany(self.sql, self.rows)
                if cursor.rowcount != len(self.rows):
                    self._report_repeats()
        self.rows.clear()

    def _copied(self):
        """PostgreSQL: the batch through COPY, the engine's bulk path (an INSERT per
        line took two thirds of the importing process's CPU). COPY has no ON
        CONFLICT: a batch with a repeated key fails in its savepoint and goes through
        the INSERT instead, which finds the repeats as on SQLite. False then."""
        from psycopg.errors import UniqueViolation
        try:
            with models.db.atomic():  # a savepoint inside the staging transaction
                with models.db.cursor().copy(self.copy_sql) as copy:
                    for row in self.rows:
                        copy.write_row(row)
        except UniqueViolation:
            return False
        return True

    def _report_repeats(self):
        staging, kind = self.staging, self.kind
        key = kind.key_of(staging)
        for row in self.rows:
            condition = all_equal((column, row[position])
                                   for column, position in zip(key, self.key_positions))
            first = staging.select(staging.line).where(condition).scalar()
            if first is None:
                # Cannot happen for a line that passed its checks; never drop it silently.
                self.report.add(row[0], [("-", "could not be staged")])
            elif first != row[0]:
                self.report.add(row[0], [("-", f"same {kind.key_label} as line {first}: a "
                                               "key may appear only once in a file")])


def _copy_statement(staging, columns):
    """COPY ... FROM STDIN into the staging table's columns (PostgreSQL)."""
    from psycopg import sql
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(staging._meta.table_name),
        sql.SQL(", ").join(sql.Identifier(column.column_name) for column in columns))


def _stage_and_merge(kind, reader, report, files, progress, binary):
    staging = _staging_model(kind)
    staging.create_table(safe=False)
    try:
        stager = _Stager(kind, staging, report)
        width = len(kind.header)
        convert, add = kind.convert, stager.add
        last_line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                report.lines += 1
                report.add(last_line + 1, [("-", f"cannot be read as CSV: {error}")])
                last_line = reader.line_num
                continue
            line, last_line = last_line + 1, reader.line_num
            try:
                if len(row) != width:
                    raise LineError([("-", f"{len(row)} fields, the header has {width} (a ';' "
                                           "missing, or one inside a value without quotes?)")])
                values = convert(row)
            except LineError as error:
                if not any(value.strip() for value in row):
                    continue  # a blank line, or a spreadsheet's trailing ';;;'
                report.lines += 1
                files.copying = False
                report.add(line, error.problems)
                continue
            report.lines += 1
            # Staged even after a bad line: repeated keys are found in the whole file.
            add((line, *values))
            if line & 0x3FFF == 0:
                progress.to(binary.tell())
        stager.flush()
        progress.to(binary.tell())
        if report.ok:
            timer = WriteTimer()
            try:
                if kind.merged_in_batches:
                    merge_measurements(kind, staging, report.counts, report.path.name, timer)
                else:
                    with timer.transaction():
                        mark = notices.before_import(kind.name, staging)
                        kind.merge(staging, report.counts)
                        files.publish()
                        notices.after_merge(kind.name, staging, mark)
                    notices.after_commit(kind.name, mark)
            finally:
                report.longest_write = timer.longest
    finally:
        staging.drop_table(safe=True)
