"""The operator back-office under /operatore."""
from flask import Blueprint

bp = Blueprint("operator", __name__)
