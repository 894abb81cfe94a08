"""The yardstick of `make bench`: one bare Flask route, served by the same gunicorn
command as the portal. Whatever a portal page costs beyond this is the portal's own
work (session, database, templates)."""
from flask import Flask


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def bare():
        return "ok"

    return app
