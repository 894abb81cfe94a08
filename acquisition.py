"""Acquisition of self-readings for the billing system (filled by the readings work)."""
import click

readings_cli = click.Group("readings", help="Self-readings: acquisition for the billing system.")


def init_app(app):
    """Start the in-process acquisition schedule (not yet)."""
