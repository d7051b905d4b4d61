"""The shape of the code, as docs/ARCHITECTURE.md describes it: layers, no import circle, small
modules, one place that builds the pipeline.

Read from the source with ``ast``; imports under ``if TYPE_CHECKING:`` are for type checkers only
and do not count as dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "honestsql"

#: Lowest first. A module may import its own layer and the layers below, never above. The keys
#: are the first name under ``honestsql`` (a module or a subpackage); ``honestsql`` is the
#: package's own ``__init__`` (the public API).
LAYERS: list[set[str]] = [
    {  # facts and vocabulary, nothing below them
        "errors",
        "findings",
        "functions",
        "forbidden",
        "loopback",
        "suggest",
        "catalog",
        "sqltypes",
        "progress",
        "injection",
        "settings",
        "wording",
    },
    {"cache", "descriptions", "config_files"},  # files on disk
    {  # databases and SQL, no model
        "db",
        "guard",
        "resolve",
        "resolution",
        "verify",
        "reads",
        "check",
        "demo",
        "policy",
        "policy_check",
        "export",
        "parsing",
    },
    {  # the model and the judgement
        "linking",
        "llm",
        "prompts",
        "calibration",
        "clues",
        "fitting",
        "answer",
        "candidates",
        "decide",
        "merging",
        "gates",
        "selfcheck",
        "memory",
        "audit",
        "glossary",
        "conversation",
        "drafting",
    },
    {"pipeline"},  # the flow of one question
    {"service", "honestsql"},  # the front door and the public API
    {"evaluation"},  # scoring runs
    {"benchmarks"},  # `honestsql bench ...`
    {"cli", "server", "mcp_server", "__main__"},  # the doors
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}
#: "No module is over ~350 lines" (issue 15): a little slack, never much.
MAX_LINES = 360


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _runtime_imports(path: Path) -> set[str]:
    """The honestsql modules ``path`` imports when it runs (not under ``TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom) and node.module in MODULES and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names]
            known = [s for s in subs if s in MODULES]
            found.update(known if len(known) == len(subs) else [node.module, *known])
    return found


GRAPH = {name: _runtime_imports(path) - {name} for name, path in MODULES.items()}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "honestsql"


def test_every_module_has_a_layer() -> None:
    assert sorted({_top(m) for m in MODULES} - set(LAYER_OF)) == []


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if LAYER_OF[_top(target)] > LAYER_OF[_top(module)]
    )
    assert upward == []


def test_the_import_graph_has_no_circle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert circles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines: it is telling you about a missing seam"


def test_the_pipeline_is_built_in_one_place() -> None:
    builders = sorted(
        name
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Pipeline"
    )
    assert builders == ["honestsql.service"]


def test_the_architecture_doc_names_every_module() -> None:
    doc = (SRC.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [
        name
        for name in MODULES
        if name != "honestsql" and f"`{name.removeprefix('honestsql.')}`" not in doc
    ]
    assert missing == []
