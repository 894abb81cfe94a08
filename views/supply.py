"""Dati Tecnici and Dati Contrattuali of the selected supply point."""
from flask import Blueprint

bp = Blueprint("supply", __name__)
