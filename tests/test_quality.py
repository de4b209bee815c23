"""Lint, types and layering run as tests: ruff, mypy --strict, and the import direction."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# package (or file prefix) -> modules it may import from the project (the translator's and the
# cache's rules are import-linter contracts in pyproject.toml: test_import_linter_contracts)
ALLOWED = {
    "bt/devices": ("bt.devices", "bt.bus", "bt.errors", "bt.staterecord", "bt.types"),
    "bt/bios": ("bt.bios", "bt.devices", "bt.bus", "bt.errors", "bt.staterecord", "bt.types"),
    "bt/callouts": (
        "bt.callouts",
        "bt.descriptors",
        "bt.exits",
        "bt.vcpu",
        "bt.engine",
        "bt.realsegments",
        "bt.regfile",
        "bt.memory",
        "bt.bus",
        "bt.errors",
        "bt.types",
        "bt.paging",
        "bt.layout",
        "bt.translator.insn",
        "bt.cpumodel",  # the CPU model the guest sees: CPUID, CR4 bits
        "bt.msrs",  # the model's MSRs
        "bt.bios.api",  # the interface of the built-in BIOS's services (bt/callouts/bios.py)
    ),
    "bt/loader.py": ("bt.bootimage", "bt.multiboot", "bt.errors", "bt.types"),
    "bt/engine.py": (
        "bt.guestview",  # the TLB-fill policy: the guest's view of memory
        "bt.shadowpaging",  # guest paging on Unicorn's own walker
        "bt.realsegments",  # the monitor's GDT and real segment registers
        "bt.nativemode",  # Unicorn's own walker or the fill hook
        "bt.paging",  # the guest's #PF a shadow fault found
        "bt.layout",
        "bt.backstop",
        "bt.nativeio",
        "bt.regfile",
        "bt.prevexception",
        "bt.errors",
        "bt.types",
    ),
    "bt/nativeio.py": ("bt.backstop",),
    "bt/paging.py": ("bt.errors", "bt.types"),
    "bt/backstop.py": (),
}
PROJECT = ("bt", "translator", "cache")  # the source directories (bt/ links to the other two)


def _sources(root: Path = ROOT) -> list[Path]:
    """Every Python file of the packages, once (not again through bt/translator, bt/cache)."""
    return [
        f
        for pkg in PROJECT
        for f in sorted((root / pkg).rglob("*.py"))
        if not any((root / p).is_symlink() for p in f.relative_to(root).parents)
    ]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names if node.module == "bt")
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] in PROJECT}


def test_translator_and_cache_are_imported_through_bt() -> None:
    """Installed, they are bt.translator and bt.cache; a plain `translator.x` import would load a
    second copy of the module from the source tree (issue #14)."""
    bad = [
        f"{f.relative_to(ROOT)} imports {m}"
        for f in [
            *_sources(),
            *sorted((ROOT / "tests").rglob("*.py")),
            *(ROOT / "tools").glob("*.py"),
        ]
        for m in _imports(f)
        if m.split(".")[0] in ("translator", "cache")
    ]
    assert not bad, "\n".join(bad)
    assert (ROOT / "bt" / "translator").resolve() == ROOT / "translator"
    assert (ROOT / "bt" / "cache").resolve() == ROOT / "cache"


def test_every_bt_module_has_a_layer() -> None:
    """The layers contract only binds the modules it names: a new module must join a layer."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for line in layers for m in line.split(":")}
    present = {
        f"bt.{p.stem if p.suffix else p.name}"
        for p in (ROOT / "bt").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert not present - named, sorted(present - named)


def test_import_direction() -> None:
    bad = []
    for prefix, allowed in ALLOWED.items():
        target = ROOT / prefix
        files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
        for f in files:
            for mod in _imports(f):
                if mod != "bt" and not any(mod == a or mod.startswith(a + ".") for a in allowed):
                    bad.append(f"{f.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_import_linter_contracts() -> None:
    """The layering contracts in pyproject.toml ([tool.importlinter]) hold."""
    exe = shutil.which("lint-imports")
    assert exe is not None, "import-linter is a test dependency (pip install -e '.[test]')"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "4 kept, 0 broken" in proc.stdout


def test_every_module_opens_with_a_docstring() -> None:
    missing = [
        str(f.relative_to(ROOT))
        for f in _sources()
        if ast.get_docstring(ast.parse(f.read_text())) is None
    ]
    assert not missing


def test_ruff() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "bt", "translator", "cache", "tests", "tools"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_ruff_format() -> None:
    """The code is as `ruff format` writes it (run it to fix this test)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


MAX_CLASS_LINES = 300  # issue #14: no class over 300 lines
MAX_FILE_LINES = 450  # the house style's ~400, with room to finish a change before splitting


def _size_offenders(root: Path) -> list[str]:
    """Classes over MAX_CLASS_LINES and files over MAX_FILE_LINES under `root`'s packages."""
    bad = []
    for f in _sources(root):
        text = f.read_text()
        name = f.relative_to(root)
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES:
            bad.append(f"{name}: {lines} lines (at most {MAX_FILE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    bad.append(
                        f"{name}:{node.lineno}: class {node.name} is {size} lines "
                        f"(at most {MAX_CLASS_LINES})"
                    )
    return bad


def test_no_class_or_file_too_big() -> None:
    bad = _size_offenders(ROOT)
    assert not bad, "split by concept:\n" + "\n".join(bad)


def test_size_check_names_the_offender(tmp_path: Path) -> None:
    pkg = tmp_path / "bt"
    pkg.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_CLASS_LINES))
    (pkg / "big.py").write_text(f'"""Too big."""\n\n\nclass Huge:\n{body}')
    (pkg / "long.py").write_text("x = 1\n" * (MAX_FILE_LINES + 1))
    (pkg / "fine.py").write_text("class Small:\n" + "    x = 1\n" * (MAX_CLASS_LINES - 1))
    assert _size_offenders(tmp_path) == [
        f"bt/big.py:4: class Huge is {MAX_CLASS_LINES + 1} lines (at most {MAX_CLASS_LINES})",
        f"bt/long.py: {MAX_FILE_LINES + 1} lines (at most {MAX_FILE_LINES})",
    ]
