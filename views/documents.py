"""I miei documenti and Modulistica: lists and downloads."""
from flask import Blueprint

bp = Blueprint("documents", __name__)
