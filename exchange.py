"""Data exchange with the billing system (filled by the data-exchange work)."""


def init_app(app):
    """Register the import/export commands."""
