"""--cache-dir: a second run of the same guest translates nothing and prints the same; entries
made from other bytes are never used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keystone
from limits import HANG_GUARD

from bt.cache.persist import decode, encode
from bt.translator.assembler import Assembler
from bt.translator.rewriter import Rewriter
from bt.translator.scanner import Scanner

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"


def bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=BIN,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT)},
    )


def translated(stderr: str) -> tuple[int, int]:
    line = next(x for x in stderr.splitlines() if x.startswith("stats: blocks:"))
    words = line.replace(",", "").split()
    return int(words[4]), int(words[6])  # translated, from --cache-dir


def test_second_run_translates_nothing(tmp_path: Path) -> None:
    args = (
        "run",
        "ckernel.elf",
        "--append",
        "bt test cmdline",
        "--stats",
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    first, second = bt(*args), bt(*args)
    assert first.returncode == second.returncode == 1
    assert first.stdout == second.stdout
    assert translated(first.stderr)[0] > 100
    assert translated(second.stderr)[0] == 0


def test_entries_for_other_bytes_are_never_used(tmp_path: Path) -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    cache = str(tmp_path / "cache")
    statuses = []
    for value in (1, 2):  # same address and length, different bytes
        path = tmp_path / f"g{value}.bin"
        path.write_bytes(bytes(ks.asm(f"mov al, {value}; out 0xf4, al", 0x100000)[0]))
        proc = bt("run", str(path), "--load-addr", "0x100000", "--cache-dir", cache, "--stats")
        statuses.append(proc.returncode)
        assert translated(proc.stderr) == (1, 0)
    assert statuses == [3, 5]


def test_codec_round_trip() -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    code = bytes(ks.asm("mov eax, cs; sgdt [ebx+4]; cli; add eax, 1; ret", 0x100000)[0])

    class Src:
        def fetch_code(self, linear: int, size: int) -> bytes:
            return (code + b"\x90" * 32)[linear - 0x100000 : linear - 0x100000 + size]

    out = Rewriter(Assembler()).rewrite(Scanner().scan(Src(), 0, 0x100000), 0)
    assert decode(encode(out)) == out
