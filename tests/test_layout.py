"""Which part may import which: a test that fails when a forbidden import appears.

Checked on the source (every ``import`` and ``from ... import``, at any depth of a module), so a
lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "rayqa"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, as dotted names (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def files(*parts: str) -> list[Path]:
    root = PKG.joinpath(*parts)
    return sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for p in paths:
        for name in sorted(imports_of(p)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{p.relative_to(PKG.parent) if p.is_relative_to(PKG.parent) else p} imports {name}")
    return bad


RULES = [
    # Detectors see decoded windows and a model folder; Ray, HTTP, MLflow, the registry and
    # decoding are other parts' business.
    (("detectors",), ("ray", "fastapi", "starlette", "mlflow", "rayqa.registry", "rayqa.loading", "rayqa.media",
                      "rayqa.pipeline", "rayqa.stages", "rayqa.serve", "rayqa.runner")),
    # Decoding knows nothing of detectors (it is given specs) nor of Ray.
    (("media",), ("rayqa.detectors", "ray", "rayqa.runner", "rayqa.pipeline", "rayqa.stages")),
    # The item runner is Ray-free: the scan's stages and the service both call it.
    (("runner",), ("ray", "fastapi", "mlflow", "rayqa.pipeline", "rayqa.stages", "rayqa.serve")),
    # The service imports nothing of the batch scan.
    (("serve",), ("rayqa.pipeline", "rayqa.stages", "rayqa.collector")),
    # The value types and the column list are plain data.
    (("types",), ("rayqa", "ray", "torch")),
    (("columns",), ("ray", "rayqa.pipeline", "rayqa.stages", "rayqa.serve", "rayqa.media")),
    # Training decodes its own data and builds models; it needs neither the scan, the service nor the detectors.
    (("train",), ("rayqa.pipeline", "rayqa.stages", "rayqa.serve", "rayqa.detectors")),
]


@pytest.mark.parametrize("part,forbidden", RULES, ids=[".".join(r[0]) for r in RULES])
def test_no_forbidden_imports(part, forbidden):
    paths = files(*part)
    assert paths, f"no source found for rayqa/{'/'.join(part)}"
    bad = offenders(paths, forbidden)
    if part == ("types",):  # rayqa.types may import nothing of rayqa but itself
        bad = [b for b in bad if not b.endswith("imports rayqa.types")]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_lazy_import(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from ray import serve\n    import mlflow.tracking\n")
    assert imports_of(f) >= {"ray", "ray.serve", "mlflow.tracking"}
    assert offenders([f], ("ray",)) and offenders([f], ("mlflow",))
