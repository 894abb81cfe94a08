"""Prelievi Fatturati: billed energy and power per year."""
from flask import Blueprint

bp = Blueprint("consumption", __name__)
