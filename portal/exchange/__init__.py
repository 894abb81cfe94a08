"""Data exchange with the billing system: `flask import`, `flask import-dir` and
`flask export-all`. The contract is docs/data-exchange.md.
"""
