"""The command line: bad input gets one line on stderr and status 2; crashes and limits report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keystone
import pytest
from limits import HANG_GUARD, limit_args

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"


def bt(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def one_line_error(proc: subprocess.CompletedProcess[str], status: int, words: str) -> None:
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert words in lines[0], lines[0]


def flat(tmp_path: Path, text: str) -> str:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    path = tmp_path / "g.bin"
    path.write_bytes(bytes(ks.asm(text, 0x100000)[0]))
    return str(path)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "/nonexistent/kernel.elf"], "kernel.elf"),
        (["run", "--mem", "0"], "--mem"),
        (["run", "--mem", "99999"], "--mem"),
        (["run", "--mem", "lots"], "not a number"),
        (["run", "--max-insns", "-5"], "--max-insns"),
        (["run", "--timeout", "0"], "--timeout"),
        (["run", "--serial", "tcp:1234"], "--serial"),
        (["run", "--entry", "0x100000"], "--entry needs --load-addr"),
        (["run", "--bogus"], "unrecognized arguments"),
        (["fly"], "invalid choice"),
        (["run", "--load-addr", "1Q"], "not an address"),
        (["run", "--load-addr", "4G"], "not a 32-bit address"),
        (["run", "--trace", "/no/such/dir/x.gz"], "--trace: cannot write /no/such/dir/x.gz"),
        (["run", "--save-cache", "/no/such/dir/c.sqlite"], "--save-cache: cannot write"),
        (["run", "--trace", "/"], "--trace: / is a directory"),
    ],
)
def test_bad_options(args: list[str], words: str) -> None:
    one_line_error(bt(*args), 2, words)


def test_not_a_guest(tmp_path: Path) -> None:
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"hello, this is not a kernel\n" * 10)
    one_line_error(bt("run", str(junk)), 2, "junk.elf")


def test_directory_is_refused(tmp_path: Path) -> None:
    one_line_error(bt("run", str(tmp_path)), 2, str(tmp_path))


def test_truncated_elf(tmp_path: Path) -> None:
    path = tmp_path / "cut.elf"
    path.write_bytes((BIN / "flags.elf").read_bytes()[:100])
    one_line_error(bt("run", str(path)), 2, "cut.elf")


def test_crash_reports_where_and_why(tmp_path: Path) -> None:
    # No IDT the guest set up: a #UD with the Multiboot IDTR (base 0, limit 0x3ff) finds a
    # null gate, so delivery fails three times over: a triple fault.
    proc = bt("run", flat(tmp_path, "nop; ud2"), "--load-addr", "0x100000")
    one_line_error(proc, 4, "0x00100001")
    assert "triple fault" in proc.stderr


def test_unsupported_feature_is_named(tmp_path: Path) -> None:
    proc = bt(
        "run",
        flat(tmp_path, ".byte 0x66, 0x74, 0x00; nop"),  # JE rel16 in 32-bit code
        "--load-addr",
        "0x100000",
    )
    one_line_error(proc, 4, "16-bit conditional branch")


def test_runaway_guest_hits_the_instruction_limit(tmp_path: Path) -> None:
    proc = bt(
        "run",
        flat(tmp_path, "l: inc eax; jmp l"),
        "--load-addr",
        "0x100000",
        "--max-insns",
        "100000",
    )
    one_line_error(proc, 6, "instruction limit")


def test_runaway_guest_hits_the_time_limit(tmp_path: Path) -> None:
    proc = bt(
        "run", flat(tmp_path, "l: inc eax; jmp l"), "--load-addr", "0x100000", "--timeout", "0.5"
    )
    one_line_error(proc, 6, "time limit")


def test_halt_with_interrupts_disabled_exits_0(tmp_path: Path) -> None:
    proc = bt("run", flat(tmp_path, "cli; hlt"), "--load-addr", "0x100000")
    assert proc.returncode == 0 and proc.stderr == ""


def test_serial_to_file_and_stats(tmp_path: Path) -> None:
    out = tmp_path / "serial.txt"
    proc = bt("run", "flags.elf", "--serial", f"file:{out}", "--stats", "--count-insns", cwd=BIN)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert out.read_bytes() == (ROOT / "guests" / "expected" / "flags.serial").read_bytes()
    assert "stats: chaining: on" in proc.stderr
    assert "Python entries per 10,000" in proc.stderr


def test_debugcon_goes_where_asked(tmp_path: Path) -> None:
    # Port 0xe9's bytes, as QEMU's -debugcon sends them: dropped unless asked for.
    text = "mov al, 0x68; out 0xe9, al; mov al, 0x69; out 0xe9, al; mov al, 0; out 0xf4, al"
    guest = flat(tmp_path, text)
    proc = bt("run", guest, "--load-addr", "0x100000")
    assert (proc.returncode, proc.stdout) == (1, "")
    proc = bt("run", guest, "--load-addr", "0x100000", "--debugcon", "stdio")
    assert (proc.returncode, proc.stdout) == (1, "hi")
    out = tmp_path / "debug.txt"
    proc = bt("run", guest, "--load-addr", "0x100000", "--debugcon", f"file:{out}")
    assert (proc.returncode, proc.stdout, out.read_bytes()) == (1, "", b"hi")
    proc = bt("run", guest, "--load-addr", "0x100000", "--debugcon", "tty")
    assert proc.returncode == 2
    assert proc.stderr == "bt: error: --debugcon: expected stdio, file:PATH or none, got 'tty'\n"


def test_no_chain_gives_the_same_output() -> None:
    # control.elf runs every control-flow form (what chaining changes) in 21,000 instructions;
    # ckernel's 12 million took 28 s unchained for the same point.
    proc = bt("run", "control.elf", "--no-chain", *limit_args("control"), cwd=BIN)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == (ROOT / "guests" / "expected" / "control.serial").read_text()


def test_vga_dump_shows_the_screen() -> None:
    proc = bt("run", "flags.elf", "--serial", "none", "--vga-dump", cwd=BIN)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 25
    assert lines[0] == "SeaBIOS (version 1.16.2-debian-1.16.2-1)"  # left by QEMU's firmware


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--bogus"], "(try: bt --help)"),
        (["run", "--bogus"], "(try: bt run --help)"),
        (["run", "--mem", "lots"], "(try: bt run --help)"),
        (["trace", "diff"], "(try: bt trace diff --help)"),
        (["trace", "diff", "a", "b", "--bogus"], "(try: bt trace diff --help)"),
        (["trace", "qemu", "k.elf"], "(try: bt trace qemu --help)"),
        (["inspect"], "(try: bt inspect --help)"),
    ],
)
def test_usage_errors_name_the_command(args: list[str], hint: str) -> None:
    proc = bt(*args)
    one_line_error(proc, 2, hint)


def test_output_paths_are_checked_before_the_run(tmp_path: Path) -> None:
    # The guest would spin until --max-insns: a refused path must stop bt before it runs.
    guest = flat(tmp_path, "l: out 0xe9, al; jmp l")
    for option in ("--trace", "--save-cache"):
        proc = bt(
            "run",
            guest,
            "--load-addr",
            "1M",
            "--max-insns",
            "1000000",
            option,
            str(tmp_path / "missing" / "out"),
        )
        one_line_error(proc, 2, f"{option}: cannot write")
        assert proc.stdout == ""


def test_version_and_python_m_bt() -> None:
    from bt import __version__

    proc = subprocess.run(
        [sys.executable, "-m", "bt", "--version"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"bt {__version__}"


def test_demo_exits_0_as_qemu_prints_it() -> None:
    # The demo writes 0 to port 0xf4 (QEMU: status 1, guests/expected/demo.status); `bt run`
    # with no guest reports the demo's success as 0, the same file named explicitly gives 1.
    expected = (ROOT / "guests" / "expected" / "demo.serial").read_text()
    assert (ROOT / "guests" / "expected" / "demo.status").read_text().strip() == "1"
    proc = subprocess.run(
        [sys.executable, "-m", "bt"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected and proc.stderr == ""
    assert bt("run", str(ROOT / "bt" / "demo" / "demo.elf")).returncode == 1


def test_flat_binary_hint_and_address_suffixes(tmp_path: Path) -> None:
    guest = flat(tmp_path, "mov al, 0; out 0xf4, al")
    one_line_error(bt("run", guest), 2, "needs --load-addr ADDR")
    for addr in ("1M", "1m", "0x100000", "1048576", "1024K"):
        proc = bt("run", guest, "--load-addr", addr)
        assert proc.returncode == 1, (addr, proc.stderr)


def test_the_cli_module_loads_no_engine() -> None:
    """Usage errors and --version answer without Unicorn, Capstone or the run loop loaded."""
    code = (
        "import sys, bt.cli; heavy = {'unicorn', 'capstone', 'bt.runloop', 'bt.engine'}; "
        "sys.exit(sorted(heavy & set(sys.modules)) or 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
