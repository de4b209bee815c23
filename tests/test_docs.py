"""The examples in docs/ work: guests.md's sources are built with nasm, gcc and ld and run (its
`console` blocks give each command and its exact output), api.md's Python blocks run in turn."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w+)(?: (\S+))?\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
TOOLS = ("nasm", "gcc", "ld")


def blocks(page: str) -> list[tuple[str, str, str]]:
    """(language, the word after it, text) of each fenced block of docs/<page>, in order."""
    return [(m[1], m[2] or "", m[3]) for m in FENCE.finditer((DOCS / page).read_text())]


def console_steps(text: str) -> list[tuple[str, str]]:
    """(command, expected output) of each `$ ` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return [(cmd, "".join(f"{o}\n" for o in out)) for cmd, out in steps]


@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason="needs nasm, gcc, ld")
def test_guest_examples_build_and_run(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "bt").write_text(f'#!/bin/sh\nexec {sys.executable} -m bt "$@"\n')
    (shim / "bt").chmod(0o755)
    env = {"PATH": f"{shim}:/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    have_qemu = shutil.which("qemu-system-i386") is not None
    ran = 0
    for lang, word, text in blocks("guests.md"):
        if lang != "console":
            (tmp_path / word).write_text(text)  # a source file, named after the language
            continue
        if word == "qemu" and not have_qemu:
            continue
        for cmd, expected in console_steps(text):
            proc = subprocess.run(
                ["bash", "-c", cmd],
                cwd=tmp_path,
                env=env,
                text=True,
                capture_output=True,
                timeout=HANG_GUARD,
                stdin=subprocess.DEVNULL,
            )
            assert proc.stdout == expected, (cmd, proc.stderr)
            ran += 1
    assert ran >= 12


def test_api_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "docs_api"}
    code = [text for lang, _, text in blocks("api.md") if lang == "python"]
    assert len(code) >= 4
    for text in code:
        exec(compile(text, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own docs
