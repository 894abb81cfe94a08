"""The house plan holds: no import cycles anywhere, the domain package never reaches
into the web layer, and every module says in its first line what it is for."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("app.py", "models.py")
PACKAGES = ("views", "portal")
# What the domain package may take from Flask: the application's settings and the
# e-mail templates. Nothing that reads a request or builds a response.
FLASK_NAMES_FOR_THE_DOMAIN = {"current_app", "render_template"}
WEB_ONLY = ("app", "views", "flask_login", "flask_wtf", "flask_limiter", "jinja2_fragments")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules():
    """{module name: path} of every module of the project (tests and bench aside)."""
    paths = [ROOT / name for name in TOP_LEVEL]
    for package in PACKAGES:
        paths += sorted((ROOT / package).rglob("*.py"))
    return {module_name(path): path for path in paths}


def imports_in(name, source, is_package=False):
    """(imported module, imported names, line) of every import in a module's source,
    at any depth: an import inside a function completes a cycle as surely as one on
    top."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            yield base, tuple(alias.name for alias in node.names), node.lineno


def import_graph(sources):
    """{module: {project modules it imports}} from {module: (source, is_package)}:
    `from views import auth` is an edge to views.auth when that is a module, else to
    views."""
    graph = {}
    for name, (source, is_package) in sources.items():
        edges = graph.setdefault(name, set())
        for module, names, _ in imports_in(name, source, is_package):
            targets = {f"{module}.{item}" for item in names} & sources.keys()
            if len(targets) < len(names) or not names:
                # Some names are attributes of the module itself (or a plain import).
                while module and module not in sources:
                    module = module.rpartition(".")[0]
                if module:
                    targets.add(module)
            edges |= targets - {name}
    return graph


def project_graph():
    return import_graph({name: (path.read_text(), path.name == "__init__.py")
                         for name, path in project_modules().items()})


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_project_has_no_import_cycle():
    graph = project_graph()
    assert {"app", "models", "views", "views.auth", "portal.cli",
            "portal.exchange.importer"} <= graph.keys()
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_level_import():
    sources = {
        "app": ("import views\n", False),
        "views": ("from models import Customer\n", True),
        "views.auth": ("def login():\n    from app import limiter\n", False),
        "views.home": ("from views import auth, render_page\n", False),
        "models": ("import peewee\n", False),
    }
    graph = import_graph(sources)
    assert graph["views.home"] == {"views", "views.auth"}
    assert cycles(graph) == []
    # A package that imports its own submodule, which the factory and the login view
    # close through a function-level import.
    sources["views"] = ("from views import home\n", True)
    assert cycles(import_graph(sources)) == [["app", "views", "views.auth", "views.home"]]


def web_imports(name, source):
    """The imports by which a domain module would reach into the web layer."""
    offences = []
    for module, names, line in imports_in(name, source):
        if module.split(".")[0] in WEB_ONLY:
            offences.append(f"{name}:{line} imports {module}")
        elif module == "flask" and (not names or set(names) - FLASK_NAMES_FOR_THE_DOMAIN):
            offences.append(f"{name}:{line} imports flask {', '.join(names)}")
    return offences


@pytest.mark.parametrize("name", sorted(name for name in project_modules()
                                        if name.startswith("portal")))
def test_the_domain_package_stays_out_of_the_web_layer(name):
    assert web_imports(name, project_modules()[name].read_text()) == []


def test_the_web_layer_check_finds_what_it_forbids():
    source = ("import flask\nfrom flask import current_app, request\n"
              "def send():\n    from views import render_page\n    from app import create_app\n"
              "from flask.cli import with_appcontext\nfrom flask import render_template\n")
    assert web_imports("portal.mail", source) == [
        "portal.mail:1 imports flask ", "portal.mail:2 imports flask current_app, request",
        "portal.mail:4 imports views", "portal.mail:5 imports app"]


@pytest.mark.parametrize("name", sorted(project_modules()))
def test_every_module_says_what_it_is_for(name):
    docstring = ast.get_docstring(ast.parse(project_modules()[name].read_text()))
    assert docstring and len(docstring.splitlines()[0]) > 20, name


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    unnamed = [name for name, path in project_modules().items()
               if not re.search(rf"\b{path.parent.name if path.stem == '__init__' else path.stem}\b",
                                layout)]
    assert unnamed == []


def test_the_top_level_holds_only_the_fixed_modules():
    assert sorted(path.name for path in ROOT.glob("*.py")) == sorted(TOP_LEVEL)
