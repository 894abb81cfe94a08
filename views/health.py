"""Health and readiness for the proxy and monitoring: /healthz (the process answers)
and /readyz (database, schema, disk space); no personal data, no session, no limit."""
from flask import Blueprint, jsonify

from portal import health
from views import limiter

bp = Blueprint("health", __name__)
limiter.exempt(bp)


@bp.get("/healthz")
def healthz():
    """The process is up and serving: asks nothing of the database."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Every readiness check: 200 when all pass, 503 naming the one that failed."""
    results, ready = health.readiness()
    return jsonify(status="ok" if ready else "fail", checks=results), 200 if ready else 503
