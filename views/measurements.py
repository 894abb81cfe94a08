"""Misure elettriche: interval data of electricity meters."""
from flask import Blueprint

bp = Blueprint("measurements", __name__)
