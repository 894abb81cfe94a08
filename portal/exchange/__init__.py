"""Data exchange with the billing system; the contract is docs/data-exchange.md.

The commands `flask import`, `flask import-dir` and `flask export-all` (portal/cli.py)
rest on these modules, each importing only modules listed before it:

- values: how a file writes a value (the parsers, Column, BadValue, LineError,
  FileRefused) and Rome local time (LocalTimeParser, local_timestamp);
- files: the files a line names (invoice PDFs, documents), copied with the import;
- kinds: the kinds of file (columns, checks of a line, merge), KINDS in dependency order;
- importer: import_file, the import of one file, all or nothing, and its Report;
- folder: import_folder, the nightly drop folder;
- export: export_all, the database written as files of the contract.

This package imports none of them: import the module you need, e.g.
`from portal.exchange import importer` or `from portal.exchange.kinds import KINDS`.
"""
