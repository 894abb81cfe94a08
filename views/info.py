"""Informativa privacy and Dichiarazione di accessibilità: the footer's pages, whose
text the utility sets in INFO_PAGES_DIR."""
from pathlib import Path

from flask import Blueprint, current_app
from flask_babel import get_locale

from views import render_page

bp = Blueprint("info", __name__)


def utility_text(name):
    """The utility's own text of a page in the page's language
    (`INFO_PAGES_DIR/<name>.en.txt`), else its Italian one (`<name>.txt`), as
    [("h2" or "p", text), ...]: blocks apart by a blank line, `## ` starts a heading.
    None when there is no such file: the page shows its default text."""
    folder = Path(current_app.config["INFO_PAGES_DIR"])
    language = get_locale().language
    for path in (folder / f"{name}.{language}.txt", folder / f"{name}.txt"):
        try:
            text = path.read_text(encoding="utf-8")
            break
        except FileNotFoundError:
            continue
    else:
        return None
    blocks = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        block = " ".join(line.strip() for line in block.strip().splitlines())
        if block.startswith("## "):
            blocks.append(("h2", block[3:].strip()))
        elif block:
            blocks.append(("p", block))
    return blocks


@bp.get("/privacy")
def privacy():
    """Informativa privacy."""
    return render_page("info/privacy.html", blocks=utility_text("privacy"))


@bp.get("/accessibilita")
def accessibility():
    """Dichiarazione di accessibilità, with the way to report a problem."""
    return render_page("info/accessibility.html", blocks=utility_text("accessibilita"))
