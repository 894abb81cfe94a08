"""Ticket: the customer's requests to the utility."""
from flask import Blueprint

bp = Blueprint("tickets", __name__)
