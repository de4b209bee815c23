"""`bt trace qemu KERNEL -o OUT` records QEMU's trace of a kernel; `bt trace diff` of it against
bt's own trace of the same kernel reports them equal; a file that is no trace is one line."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.tracefile import open_trace

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"


def bt(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.skipif(shutil.which("qemu-system-i386") is None, reason="needs qemu-system-i386")
def test_qemu_trace_of_a_bundled_guest_equals_bts(tmp_path: Path) -> None:
    kernel = tmp_path / "flags.elf"  # a copy elsewhere: the command works on any kernel path
    shutil.copy(BIN / "flags.elf", kernel)
    ref = tmp_path / "ref.trace.gz"
    proc = bt("trace", "qemu", str(kernel), "-o", str(ref))
    assert proc.returncode == 0, proc.stderr
    assert "instructions recorded" in proc.stdout
    header, records = open_trace(str(ref))
    assert header.source == "qemu" and header.level == "insn"
    first = next(records)
    assert first.eip == 0x100010  # the kernel's entry: the firmware is filtered out
    ours = tmp_path / "bt.trace.gz"
    assert (
        bt(
            "run", str(kernel), "--trace", str(ours), "--trace-level", "insn", "--serial", "none"
        ).returncode
        == 1
    )
    diff = bt("trace", "diff", str(ours), str(ref))
    assert diff.returncode == 0, diff.stdout
    assert diff.stdout.startswith("traces equal (")
    # One record per instruction: QEMU's repeated log entries are dropped, so the count is bt's.
    _, ours_records = open_trace(str(ours))
    n_bt = sum(1 for r in ours_records if r.kind == "exec")
    assert proc.stdout.strip().endswith(f": {n_bt} instructions recorded"), proc.stdout


def test_qemu_trace_refuses_a_flat_binary_and_a_bad_output(tmp_path: Path) -> None:
    flat = tmp_path / "g.bin"
    flat.write_bytes(b"\xf4" * 16)
    proc = bt("trace", "qemu", str(flat), "-o", str(tmp_path / "t.gz"))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    proc = bt("trace", "qemu", str(BIN / "flags.elf"), "-o", str(tmp_path / "no" / "t.gz"))
    assert proc.returncode == 2 and "--out: cannot write" in proc.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x7fELF\x01\x01\x01" + bytes(range(256)) * 8, "not a bt-trace file (binary data"),
        (gzip.compress(bytes(range(256)) * 8), "not a bt-trace file (binary data"),
        (b"hello, world\n", "not a bt-trace file (not JSON"),
        (b'{"format": "something else"}\n', "not a bt-trace file"),
        (
            b'{"format":"bt-trace","version":1,"level":"insn","source":"bt","guest":"g",'
            b'"regs":["eax"]}\n{}\n',
            ":2: malformed record",
        ),
    ],
)
def test_diff_of_a_file_that_is_not_a_trace_is_one_line(
    tmp_path: Path,
    content: bytes,
    words: str,
) -> None:
    path = tmp_path / "x.trace"
    path.write_bytes(content)
    proc = bt("trace", "diff", str(path), str(path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert words in lines[0], lines[0]


def test_gzip_trace_is_read_whatever_its_name(tmp_path: Path) -> None:
    renamed = tmp_path / "flags.trace"  # gzip bytes without the .gz name
    shutil.copy(ROOT / "guests" / "traces" / "flags.trace.gz", renamed)
    proc = bt("trace", "diff", str(renamed), str(ROOT / "guests" / "traces" / "flags.trace.gz"))
    assert proc.returncode == 0 and proc.stdout.startswith("traces equal")
