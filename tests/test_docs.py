"""The documentation stays in step: docs/security.md names tests that exist, the
README's configuration table is the settings table."""
import re
import socket
import subprocess
from pathlib import Path

import pytest

from portal import settings

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


def test_the_readme_configuration_table_is_the_settings_table():
    """Every setting the factory reads is in the README with its default and meaning,
    and nothing else is (`flask settings` prints the table to paste)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert "\n".join(rows) + "\n" in settings.markdown_table()
    assert settings.markdown_table() in section


SAMPLES = {str: ("Gas Val di Cecina S.r.l.", "Gas Val di Cecina S.r.l."), int: ("2525", 2525),
           bool: ("true", True)}


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda setting: setting.name)
def test_every_setting_comes_from_the_environment(setting, tmp_path):
    text, value = SAMPLES[setting.kind]
    assert settings.from_environment(tmp_path, {setting.name: text})[setting.name] == value
    default = settings.from_environment(tmp_path, {})[setting.name]
    assert default is None or isinstance(default, setting.kind)
    assert "{instance}" not in str(default)


def test_flask_settings_prints_the_table(runner):
    assert runner.invoke(args=["settings"]).output == settings.markdown_table()


def test_committed_files_carry_no_machine_paths_or_host_name():
    """Bench results and docs are written on some machine: none of it may show where."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    markers = ["/work/", "/home/", "/root/", str(ROOT)]
    if len(socket.gethostname()) > 5:  # a name as short as "vm" is in ordinary words
        markers.append(socket.gethostname())
    found = []
    for name in tracked:
        path = ROOT / name
        if (path.suffix in {".gz", ".pdf", ".png", ".jpg", ".svg"} or not path.is_file()
                or name == "tests/test_docs.py"):
            continue
        text = path.read_text(errors="replace")
        found += [f"{name}: {marker}" for marker in markers if marker in text]
    assert found == []
