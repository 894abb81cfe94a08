"""The operator back-office under /operatore."""
from flask import Blueprint

bp = Blueprint("operator", __name__)

import click

operator_cli = click.Group("operator", help="Operator accounts of the back-office.")
