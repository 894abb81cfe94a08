"""Autolettura Contatore: gas self-readings."""
from flask import Blueprint

bp = Blueprint("readings", __name__)
