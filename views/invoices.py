"""Elenco fatture: the supply point's invoices and their PDFs."""
from flask import Blueprint

bp = Blueprint("invoices", __name__)
