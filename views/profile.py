"""Dati Anagrafici: the customer record, with phone, fax and e-mail editable."""
from flask import Blueprint

bp = Blueprint("profile", __name__)
