"""The documentation names tests that exist: docs/security.md stays in step."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_test_named_in_the_security_doc_exists():
    text = (ROOT / "docs" / "security.md").read_text()
    named, current = [], None
    for match in re.finditer(r"`(test_\w+\.py)?(?:::(test_\w+))?", text):
        module, test = match.groups()
        current = module or current
        if module:
            assert (ROOT / "tests" / module).exists(), module
        if test:
            named.append((current, test))
    assert len(named) > 40
    missing = [f"{module}::{test}" for module, test in named
               if not re.search(rf"^def {test}\(", (ROOT / "tests" / module).read_text(), re.M)]
    assert missing == []
