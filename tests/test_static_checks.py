"""Static checks: bandit finds nothing of medium or high severity, and no SQL text is
ever assembled from values (everything goes through Peewee's parameters)."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(path for path in ROOT.glob("**/*.py")
                 if not path.relative_to(ROOT).parts[0] in {".venv", "tests", "bench"})
SQL_CALLS = {"execute_sql", "execute", "executemany", "SQL", "raw"}


def test_bandit_reports_no_medium_or_high_issue():
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "-ll", *map(str, SOURCES)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _assembled(node):
    """An f-string, a `%` or `+` on strings, or str.format(): text built from values."""
    return (isinstance(node, ast.JoinedStr)
            or (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)))
            or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"))


def test_sql_is_never_assembled_from_values():
    offenders = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in SQL_CALLS and _assembled(node.args[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_rate_limit_counts_posts_only():
    """views.limiter skips reads without looking for limits: a limit on anything but
    POST would silently never apply."""
    limits = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Limiter":
                # No limit for every route: only the decorated POSTs are limited.
                assert {keyword.arg: ast.literal_eval(keyword.value)
                        for keyword in node.keywords if keyword.arg != "key_func"} == {
                    "default_limits": []}
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"limit", "shared_limit"}
                    and getattr(node.func.value, "id", "") == "limiter"):
                methods = next((keyword.value for keyword in node.keywords
                                if keyword.arg == "methods"), None)
                limits.append((f"{path.relative_to(ROOT)}:{node.lineno}",
                               ast.literal_eval(methods) if methods else None))
    assert len(limits) >= 10  # the login, registration, recovery, message... limits
    assert [where for where, methods in limits if methods != ["POST"]] == []


def test_the_checks_see_the_code():
    paths = {path.relative_to(ROOT).as_posix() for path in SOURCES}
    assert {"app.py", "models.py", "portal/exchange/importer.py",
            "portal/acquisition.py"} <= paths
