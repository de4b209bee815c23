"""Boot the guests of guests/boot/ under qemu-system-i386 and record their serial output and screen.

Each guest is a disk image booted by SeaBIOS (`-drive if=floppy` / `if=ide`, the long form of
`-fda` / `-hda` that names the raw format), COM1 to a file, isa-debug-exit at 0xf4, no display,
no reboot, `-snapshot` (the committed images are never written), and the RTC started at
2000-01-01 00:00:00 UTC, the time bt's CMOS starts at (bt/devices/cmos.py).

The final screen: isa-debug-exit ends QEMU inside the guest's OUT, so nothing can be read after
it. Every boot guest ends by jumping to its exit stub at 0x7DF0 (guests/boot/exit16.inc): QEMU is
started stopped with its gdb stub on a socket, the tool sets a breakpoint at linear 0x7DF0,
continues, and at the stop reads the 80x25 text screen at 0xB8000 (4000 bytes) with the stub's
`m` packets, then lets the guest's OUT end QEMU. The guests set text mode 3 (INT 10h AX=0003h)
first, which clears the screen: SeaBIOS's banner is gone and the whole screen is the guest's.

Keys (the `keys` guest): typed through QMP `send-key` (QEMU's PS/2 keyboard, as the monitor's
`sendkey` does), paced by the guest: the keys file is a text file whose lines are typed one
after another; before a line the tool waits until the serial output holds one more prompt
(`> `) than lines typed so far, and before each further key until the guest has printed
something since the previous key (its echo). Keys are thus typed only when the guest is ready
for them, in the same order on every run.

Files written, in guests/expected/boot/: NAME.serial (the bytes on COM1) and NAME.screen (the
screen as `bt run --vga-dump` prints it: 25 lines of CP437 text, trailing spaces trimmed), each
after one header line `# qemu_boot_ref: <qemu --version's first line> | <command line>`, and
NAME.status (QEMU's exit status). `load_reference` reads them back.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bt.devices.vga import CP437  # noqa: E402

BOOT_DIR = ROOT / "guests" / "boot"
EXPECTED_DIR = ROOT / "guests" / "expected" / "boot"
QEMU = "qemu-system-i386"
EXIT_STUB = 0x7DF0  # guests/boot/exit16.inc
SCREEN = 0xB8000
COLS, ROWS = 80, 25
HEADER = "# qemu_boot_ref: "
PROMPT = b"> "
DEFAULT_TIMEOUT = 60.0
# The reference machine of the boot guests; the tool adds the drives, the serial file, -S and
# the gdb and QMP sockets.
BASE_ARGS: tuple[str, ...] = (
    "-m",
    "128",
    "-display",
    "none",
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=4",
    "-debugcon",
    "file:/dev/null",
    "-rtc",
    "base=2000-01-01T00:00:00",
    "-no-reboot",
    "-snapshot",
)


@dataclass(frozen=True, slots=True)
class BootSpec:
    """What one boot guest is booted from (image names in guests/boot/)."""

    fda: str | None = None
    hda: str | None = None
    boot: str = "a"  # QEMU's -boot: a floppy, c hard disk
    keys: str | None = None  # a keys file in guests/boot/, typed as the module docstring says

    def qemu_args(self) -> list[str]:
        """The drive and boot options (relative names: QEMU runs in guests/boot/)."""
        args: list[str] = []
        if self.fda:
            args += ["-drive", f"file={self.fda},if=floppy,index=0,format=raw"]
        if self.hda:
            args += ["-drive", f"file={self.hda},if=ide,index=0,format=raw"]
        return [*args, "-boot", self.boot]

    def bt_args(self) -> list[str]:
        """The same machine as `bt run` options (its disk-image options of issue #16)."""
        args: list[str] = []
        if self.fda:
            args += ["--fda", str(BOOT_DIR / self.fda)]
        if self.hda:
            args += ["--hda", str(BOOT_DIR / self.hda)]
        args += ["--boot", self.boot, "--snapshot", "--vga-dump"]
        if self.keys:
            args += ["--keys", str(BOOT_DIR / self.keys)]
        return args


# The one table to edit when a boot guest is added (guests/build.sh builds the images).
GUESTS: dict[str, BootSpec] = {
    "hello": BootSpec(fda="hello.img"),
    "disk": BootSpec(fda="disk.img", hda="disk_hd.img"),
    "modes": BootSpec(fda="modes.img"),
    "thunk": BootSpec(fda="thunk.img"),
    "bios": BootSpec(fda="bios.img"),
    "keys": BootSpec(fda="keys.img", keys="keys.keys"),
}


class RefError(Exception):
    """QEMU could not be run to the guest's end (one line, for the tool's error message)."""


@dataclass(frozen=True, slots=True)
class BootRef:
    """What a boot guest printed on COM1 and showed on screen, and how QEMU exited."""

    name: str
    header: str  # the header line's text after HEADER
    serial: bytes
    screen: str  # 25 lines joined by newlines, as bt's VgaText.screen_text()
    status: int


def screen_text(cells: bytes) -> str:
    """80x25 character/attribute pairs as 25 lines of text, trailing spaces trimmed."""
    rows = []
    for row in range(ROWS):
        chars = cells[2 * COLS * row : 2 * COLS * (row + 1) : 2]
        rows.append("".join(CP437[c] for c in chars).rstrip(" "))
    return "\n".join(rows)


class GdbStub:
    """The few packets of the GDB remote protocol the tool needs, over QEMU's stub socket."""

    def __init__(self, path: str, deadline: float) -> None:
        self._sock = _connect(path, deadline)
        self._buf = b""
        self._deadline = deadline

    def _read_byte(self) -> int:
        while not self._buf:
            self._sock.settimeout(max(0.05, self._deadline - time.monotonic()))
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise RefError("timed out waiting for QEMU's gdb stub") from None
            if not chunk:
                raise RefError("QEMU closed its gdb stub")
            self._buf += chunk
        b, self._buf = self._buf[0], self._buf[1:]
        return b

    def send(self, payload: str) -> None:
        """Send one packet and wait for its acknowledgement."""
        cksum = sum(payload.encode()) & 0xFF
        self._sock.sendall(f"${payload}#{cksum:02x}".encode())
        while (b := self._read_byte()) != ord("+"):
            if b == ord("-"):
                self._sock.sendall(f"${payload}#{cksum:02x}".encode())

    def reply(self) -> str:
        """The next packet from the stub (acknowledged)."""
        while self._read_byte() != ord("$"):
            pass
        data = bytearray()
        while (b := self._read_byte()) != ord("#"):
            data.append(b)
        self._read_byte()
        self._read_byte()
        self._sock.sendall(b"+")
        return data.decode()

    def pending(self) -> bool:
        """Whether the stub has sent something (a stop reply) without blocking."""
        if self._buf:
            return True
        self._sock.settimeout(0.0)
        try:
            chunk = self._sock.recv(65536)
        except (BlockingIOError, TimeoutError):
            return False
        if not chunk:
            raise RefError("QEMU closed its gdb stub before the guest reached its exit stub")
        self._buf += chunk
        return True

    def read_memory(self, addr: int, size: int) -> bytes:
        """`size` bytes at linear `addr`, in packets the stub's buffer holds."""
        out = bytearray()
        while len(out) < size:
            n = min(512, size - len(out))
            self.send(f"m{addr + len(out):x},{n:x}")
            text = self.reply()
            if text.startswith("E") or len(text) != 2 * n:
                raise RefError(f"gdb stub: reading 0x{addr + len(out):x}: {text[:8]}")
            out += bytes.fromhex(text)
        return bytes(out)

    def close(self) -> None:
        self._sock.close()


class Qmp:
    """QEMU's QMP socket: capabilities negotiated, commands answered."""

    def __init__(self, path: str, deadline: float) -> None:
        self._file = _connect(path, deadline).makefile("rwb")
        self._command("qmp_capabilities", None, greeting=True)

    def _command(self, name: str, arguments: object, greeting: bool = False) -> None:
        if greeting:
            self._file.readline()
        msg: dict[str, object] = {"execute": name}
        if arguments is not None:
            msg["arguments"] = arguments
        self._file.write(json.dumps(msg).encode() + b"\n")
        self._file.flush()
        while True:  # events may come before the answer
            answer = json.loads(self._file.readline() or b"{}")
            if "error" in answer:
                raise RefError(f"QMP {name}: {answer['error'].get('desc', answer)}")
            if "return" in answer:
                return
            if not answer:
                raise RefError(f"QMP {name}: QEMU closed the socket")

    def send_key(self, qcodes: list[str]) -> None:
        """Press the keys together and release them (QEMU's default 100 ms hold)."""
        self._command("send-key", {"keys": [{"type": "qcode", "data": q} for q in qcodes]})


def _connect(path: str, deadline: float) -> socket.socket:
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise RefError(f"QEMU never opened {path}") from None
            time.sleep(0.02)


_NAMED_KEYS = {
    " ": "spc",
    "\n": "ret",
    "\b": "backspace",
    ".": "dot",
    ",": "comma",
    "-": "minus",
    "/": "slash",
}
_SHIFTED = {"!": "1", "?": "slash", "_": "minus", ":": "semicolon"}


def qcodes(ch: str) -> list[str]:
    """QEMU's qcodes that type `ch` on a US keyboard."""
    if ch.isascii() and (ch.islower() or ch.isdigit()):
        return [ch]
    if ch.isascii() and ch.isupper():
        return ["shift", ch.lower()]
    if ch in _NAMED_KEYS:
        return [_NAMED_KEYS[ch]]
    if ch in _SHIFTED:
        return ["shift", _SHIFTED[ch]]
    raise RefError(f"no key types {ch!r}")


def _wait_serial(
    path: Path, ready: Callable[[bytes], bool], gdb: GdbStub, deadline: float
) -> bytes:
    """Poll the serial file until ready(serial) holds; the guest must not stop meanwhile."""
    while True:
        data = path.read_bytes() if path.exists() else b""
        if ready(data):
            return data
        if gdb.pending():
            raise RefError("the guest ended before it had read all its keys")
        if time.monotonic() > deadline:
            raise RefError("timed out waiting for the guest to be ready for a key")
        time.sleep(0.01)


def _type_keys(text: str, serial: Path, qmp: Qmp, gdb: GdbStub, deadline: float) -> None:
    lines = text.splitlines(keepends=True)
    for typed, line in enumerate(lines):

        def prompted(s: bytes, n: int = typed) -> bool:
            return s.count(PROMPT) > n

        _wait_serial(serial, prompted, gdb, deadline)
        for ch in line:
            before = len(serial.read_bytes())

            def echoed(s: bytes, b: int = before) -> bool:
                return len(s) > b

            qmp.send_key(qcodes(ch))
            _wait_serial(serial, echoed, gdb, deadline)


def qemu_version() -> str:
    """The first line of `qemu-system-i386 --version`."""
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


def run_guest(name: str, timeout: float = DEFAULT_TIMEOUT) -> BootRef:
    """Boot guest `name` under QEMU and record its serial output, final screen and status."""
    spec = GUESTS.get(name)
    if spec is None:
        raise RefError(f"no boot guest {name!r} (known: {', '.join(GUESTS)})")
    for image in (spec.fda, spec.hda, spec.keys):
        if image and not (BOOT_DIR / image).is_file():
            raise RefError(f"no {BOOT_DIR / image}: run guests/build.sh")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="qemu_boot_ref.") as tmp:
        serial, gdb_sock, qmp_sock = Path(tmp, "serial"), f"{tmp}/gdb", f"{tmp}/qmp"
        shown = [QEMU, *spec.qemu_args(), *BASE_ARGS, "-serial", f"file:{name}.serial"]
        cmd = [
            *shown[:-1],
            f"file:{serial}",
            "-S",
            "-gdb",
            f"unix:{gdb_sock},server=on,wait=off",
            "-qmp",
            f"unix:{qmp_sock},server=on,wait=off",
        ]
        proc = subprocess.Popen(
            cmd, cwd=BOOT_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            gdb = GdbStub(gdb_sock, deadline)
            qmp = Qmp(qmp_sock, deadline)
            gdb.send(f"Z0,{EXIT_STUB:x},1")
            if gdb.reply() != "OK":
                raise RefError("the gdb stub refused the breakpoint")
            gdb.send("c")
            if spec.keys:
                keys = (BOOT_DIR / spec.keys).read_text()
                _type_keys(keys, serial, qmp, gdb, deadline)
            stop = gdb.reply()
            if not stop.startswith(("T05", "S05")):
                raise RefError(f"QEMU stopped with {stop!r}, not at the exit stub")
            cells = gdb.read_memory(SCREEN, COLS * ROWS * 2)
            gdb.send(f"z0,{EXIT_STUB:x},1")
            gdb.reply()
            gdb.send("c")  # the OUT to 0xf4 ends QEMU
            status = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            gdb.close()
        except subprocess.TimeoutExpired:
            raise RefError(f"{name}: QEMU did not exit after the exit stub") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if err:
            raise RefError(f"{name}: QEMU said: {err.splitlines()[0]}")
        header = f"{qemu_version()} | {' '.join(shown)}"
        return BootRef(name, header, serial.read_bytes(), screen_text(cells), status)


def write_expected(ref: BootRef) -> None:
    """Store NAME.serial, NAME.screen (each after the header line) and NAME.status."""
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    head = (HEADER + ref.header + "\n").encode()
    (EXPECTED_DIR / f"{ref.name}.serial").write_bytes(head + ref.serial)
    (EXPECTED_DIR / f"{ref.name}.screen").write_bytes(head + ref.screen.encode() + b"\n")
    (EXPECTED_DIR / f"{ref.name}.status").write_text(f"{ref.status}\n")


def _split_header(name: str, data: bytes) -> tuple[str, bytes]:
    line, _, rest = data.partition(b"\n")
    text = line.decode()
    if not text.startswith(HEADER):
        raise RefError(f"{name}: not written by tools/qemu_boot_ref.py (no header line)")
    return text.removeprefix(HEADER), rest


def load_reference(name: str) -> BootRef:
    """The committed reference of guest `name` (what a test compares bt's run with: bt's
    stdout under `GUESTS[name].bt_args()` is ref.serial, then ref.screen and a newline)."""
    header, serial = _split_header(name, (EXPECTED_DIR / f"{name}.serial").read_bytes())
    header2, screen = _split_header(name, (EXPECTED_DIR / f"{name}.screen").read_bytes())
    if header != header2:
        raise RefError(f"{name}: .serial and .screen come from different runs")
    status = int((EXPECTED_DIR / f"{name}.status").read_text())
    return BootRef(name, header, serial, screen.decode().removesuffix("\n"), status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("guests", nargs="*", help=f"boot guests (default: {' '.join(GUESTS)})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds a guest")
    parser.add_argument("--check", action="store_true", help="compare with the references")
    args = parser.parse_args(argv)
    failures = 0
    for name in args.guests or list(GUESTS):
        try:
            ref = run_guest(name, args.timeout)
            if args.check:
                want = load_reference(name)
                same = (ref.serial, ref.screen, ref.status) == (
                    want.serial,
                    want.screen,
                    want.status,
                )
                failures += not same
                print(f"{name}: status {ref.status}, {'same' if same else 'DIFFERS'}")
            else:
                write_expected(ref)
                lines = ref.serial.count(b"\n")
                print(f"{name}: status {ref.status}, {lines} lines")
        except (RefError, OSError) as exc:
            print(f"qemu_boot_ref: error: {exc}", file=sys.stderr)
            return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
