"""The one stylesheet and the one script of every page: concatenations of the sources
under static/, made by `flask assets` and committed, so that no build step is needed."""
import hashlib
from pathlib import Path

# Each bundle and its sources, in order. The sources stay the files to edit; after an
# edit `flask assets` writes the bundles again (a test fails while they differ).
BUNDLES = {
    "bundle/portal.css": ("css/portal.css", "css/pages.css", "css/readings.css",
                          "css/charts.css", "css/tickets.css", "css/payments.css",
                          "css/media.css"),
    "bundle/portal.js": ("js/htmx-2.0.11.min.js", "js/portal.js", "js/charts.js"),
}


def concatenation(static_folder, bundle):
    """The bundle as `flask assets` writes it: a header naming its sources, then each
    source under a comment with its name (a `;` after scripts, so that a file without a
    final semicolon cannot run into the next)."""
    static_folder = Path(static_folder)
    sources = BUNDLES[bundle]
    parts = [f"/* {bundle}: made by `flask assets` from {', '.join(sources)}. "
             "Edit those files, then run `flask assets` again. */\n"]
    for source in sources:
        text = (static_folder / source).read_text(encoding="utf-8")
        parts.append(f"\n/* {source} */\n{text.rstrip()}\n")
        if bundle.endswith(".js"):
            parts.append(";\n")
    return "".join(parts).encode("utf-8")


def write_bundles(static_folder):
    """Write every bundle whose content changed; return the names written."""
    written = []
    for bundle in BUNDLES:
        target = Path(static_folder) / bundle
        content = concatenation(static_folder, bundle)
        if not target.exists() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written.append(bundle)
    return written


def content_hash(path):
    """A short hash of a file's content: the version in its URL."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
