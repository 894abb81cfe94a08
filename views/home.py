"""Home Page: a summary of the selected supply point."""
from flask import Blueprint, redirect, url_for
from flask_login import current_user

from models import BilledConsumption, Invoice, ReadingWindow, SelfReading, held_days, rome_now
from views import customer_required, render_page, selected_supply_point, start_page

bp = Blueprint("home", __name__)


@bp.get("/")
def root():
    """Send customers to their home page and everybody else to the login."""
    return redirect(start_page() if current_user.is_authenticated else url_for("auth.login"))


@bp.get("/home")
@customer_required
def index():
    """Home Page of the selected supply point."""
    supply_point = selected_supply_point()
    summary = {}
    if supply_point is not None:
        now = rome_now()
        summary = dict(
            latest_invoice=Invoice.latest_for(supply_point, current_user.id),
            latest_reading=SelfReading.latest_for(supply_point, current_user.id),
            # The last billed period of the customer's holding: estimated or not.
            latest_billed=BilledConsumption.latest_of(supply_point, *held_days(supply_point)),
        )
        if not supply_point.is_ceased:
            # One query for both, as the Autolettura page does: the windows not over
            # are few. The open one is the latest started (as ReadingWindow.open_at
            # chooses), the next one the soonest to start (as next_after).
            not_over = ReadingWindow.not_over(supply_point, now)
            summary.update(
                open_window=max((window for window in not_over if window.start_at <= now),
                                key=lambda window: window.start_at, default=None),
                next_window=next((window for window in not_over if window.start_at > now),
                                 None))
    return render_page("home/index.html", supply_point=supply_point, **summary)
