"""The `bt` command line: `bt run [GUEST] ...`; bad input is one line on stderr and status 2."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from bt.cliparser import BtParser, build_parser, nondet_range
from bt.errors import INTERNAL_ERRORS, BadInput, BtError, OptionError, TranslationError
from bt.options import check_output
from bt.runresult import EXIT_BAD_INPUT, EXIT_CRASH
from bt.tracefile import BOOT_WINDOW

if TYPE_CHECKING:
    from bt.bootimage import BootImage
    from bt.bootplan import BootPlan
    from bt.console import HostConsole
    from bt.cpumodel import CpuModel
    from bt.linuxboot import LinuxLoad
    from bt.machine import Machine

# This module imports nothing heavy at its top: main() tunes the collector first, and each
# command imports what it needs (a run needs the engine; --version and usage errors do not).
EXIT_INTERNAL = 70
DEMO_SUCCESS = (0 << 1) | 1  # the built-in demo writes 0 to the exit port when it is done
MAX_CACHE_MIB = 16384
MAX_MEM_MIB = 3072


def cmd_trace(args: argparse.Namespace) -> int:
    """`bt trace diff A B`: 0 when equal, 1 when they differ, 2 for bad input;
    `bt trace qemu KERNEL -o OUT`: 0 when recorded."""
    if args.trace_command == "qemu":
        from bt.qemutrace import record_qemu_trace

        check_output("--out", args.out)
        n = record_qemu_trace(
            args.kernel,
            args.out,
            args.mem,
            args.append,
            ("-icount", "shift=0") if args.icount else (),
            args.timeout,
            args.hda,
        )
        sys.stdout.write(f"{args.out}: {n} instructions recorded\n")
        return 0
    from bt.tracediff import diff_traces, format_diff

    if args.trace_command != "diff":
        raise OptionError("trace: expected a subcommand: diff or qemu")
    ignore = {r.strip().lower() for r in args.ignore.split(",") if r.strip()}
    nondet = [nondet_range(spec) for spec in args.nondet]
    result = diff_traces(args.a, args.b, ignore, args.start_at, max(args.context, 0), nondet)
    sys.stdout.write(format_diff(result))
    return 0 if result.equal else 1


def _serial_sink(
    spec: str, option: str = "--serial"
) -> tuple[Callable[[bytes], None], IO[bytes] | None]:
    """Where `option`'s bytes go: stdout (flushed at each line), a file, or nowhere."""
    if spec == "none":
        return (lambda _b: None), None
    if spec == "stdio":
        out = sys.stdout.buffer

        def write(data: bytes) -> None:
            out.write(data)
            if b"\n" in data:
                out.flush()

        return write, None
    if spec.startswith("file:") and len(spec) > 5:
        path = spec[5:]
        try:
            fh = open(path, "wb")  # noqa: SIM115 - closed by main after the run
        except OSError as exc:
            raise OptionError(f"{option}: cannot open {path}: {exc.strerror}") from None

        def write_file(data: bytes) -> None:
            fh.write(data)

        return write_file, fh
    raise OptionError(f"{option}: expected stdio, file:PATH or none, got {spec!r}")


def _check_options(args: argparse.Namespace) -> None:
    if not 1 <= args.mem <= MAX_MEM_MIB:
        raise OptionError(f"--mem: {args.mem} MiB is outside 1..{MAX_MEM_MIB}")
    if not 1 <= args.cache_size <= MAX_CACHE_MIB:
        raise OptionError(f"--cache-size: {args.cache_size} MiB is outside 1..{MAX_CACHE_MIB}")
    if args.max_insns is not None and args.max_insns <= 0:
        raise OptionError(f"--max-insns: must be positive, got {args.max_insns}")
    if args.timeout is not None and not args.timeout > 0:
        raise OptionError(f"--timeout: must be positive, got {args.timeout}")
    if args.entry is not None and args.load_addr is None:
        raise OptionError("--entry needs --load-addr (it is for flat binaries)")
    for option, path in (("--trace", args.trace), ("--save-cache", args.save_cache)):
        if path is not None:
            check_output(option, path)


def _demo_path() -> str:
    return str(Path(__file__).with_name("demo") / "demo.elf")  # package data, next to bt/


def cmd_run(args: argparse.Namespace) -> int:
    """`bt run`: boot the guest and run it to the end."""
    from bt.cpumodel import model_named, models_help

    if args.cpu == "help":
        sys.stdout.write(models_help())
        return 0
    cpu = model_named(args.cpu)  # before the guest is loaded: a bad name is bad input
    if args.kernel is not None:
        if args.guest is not None:
            raise OptionError(f"--kernel {args.kernel}: the guest is already {args.guest}")
        args.guest = args.kernel
    _check_options(args)
    if args.inspect:
        from bt.inspector.command import check_terminal

        check_terminal("--inspect")  # before the run, not after it
    if args.bios is not None:
        return _run_bios(args, cpu)
    from bt.bootplan import boot_plan

    plan = boot_plan(args)  # the disk options' one-line errors, before anything runs
    try:
        return _run(args, cpu, plan)
    finally:
        if plan is not None:
            plan.close()


def _run_bios(args: argparse.Namespace, cpu: CpuModel) -> int:
    """`bt run --bios FILE`: the firmware is the whole guest (bt/resetboot.py)."""
    from bt.resetboot import ONE_MIB, load_bios, reset_image

    given = [f"--{o.replace('_', '-')}" for o in BIOS_EXCLUDES if getattr(args, o) is not None]
    if args.guest is not None or given:
        what = args.guest if args.guest is not None else given[0]
        raise OptionError(
            f"--bios: the firmware is the whole guest; bt does not boot {what} through it"
        )
    if args.mem << 20 < ONE_MIB:
        raise OptionError(f"--mem: a firmware needs at least 1 MiB, not {args.mem} MiB")
    image = reset_image(load_bios(args.bios), cpu)
    return _run(args, cpu, None, image)


BIOS_EXCLUDES = (
    "fda", "fdb", "hda", "hdb", "hdc", "hdd", "boot", "load_addr", "entry", "initrd",
)  # fmt: skip


def _linux(args: argparse.Namespace, guest: str, mem_size: int) -> LinuxLoad | None:
    """The Linux kernel `guest` laid out as QEMU's -kernel does, or None if it is none."""
    from bt.linuxboot import is_bzimage, load_linux

    try:
        with open(guest, "rb") as fh:
            data = fh.read()
    except OSError:
        return None  # not readable: the loader names the problem
    if not is_bzimage(data):
        return None
    return load_linux(guest, data, args.append, args.initrd, mem_size, args.machine)


def _run(
    args: argparse.Namespace,
    cpu: CpuModel,
    plan: BootPlan | None,
    firmware: BootImage | None = None,
) -> int:
    """`bt run` once its options and drives are known (`firmware`: --bios's reset image)."""
    from bt.loader import load_guest
    from bt.machine import Machine, MachineConfig

    disk_boot = plan is not None and plan.boot_drive is not None
    guest = args.guest if args.guest is not None else _demo_path()
    if disk_boot and args.guest is None:
        guest = next(str(i.path) for i in plan.images()) if plan is not None else guest
    if firmware is not None:
        guest = args.bios
    mem_size = args.mem << 20
    linux = None
    if firmware is None and not disk_boot and args.load_addr is None:
        linux = _linux(args, guest, mem_size)
    if args.initrd is not None and linux is None:
        raise OptionError(f"--initrd: {guest} is not a Linux kernel (a bzImage)")
    image = (
        firmware
        if firmware is not None or disk_boot or linux is not None
        else load_guest(guest, mem_size, args.append, args.load_addr, args.entry)
    )
    keys = b""
    if args.keys is not None:
        try:
            keys = Path(args.keys).read_bytes()
        except OSError as exc:
            raise OptionError(f"--keys: cannot read {args.keys}: {exc.strerror}") from None
    console: HostConsole | None = None
    early = bytearray()  # with --display: COM1 output before the console exists
    sink: Callable[[bytes], None]
    fh: IO[bytes] | None = None
    if args.display and args.serial == "stdio":

        def sink(data: bytes) -> None:
            if console is None:
                early.extend(data)
            else:
                console.serial(data)
    else:
        sink, fh = _serial_sink(args.serial)
    try:
        debug_sink, debug_fh = _serial_sink(args.debugcon, "--debugcon")
    except OptionError:
        if fh is not None:
            fh.close()
        raise
    bios_lines: Callable[[], list[str]] = list
    try:
        config = MachineConfig(
            mem_size,
            chaining=not args.no_chain,
            inline=not args.no_inline,
            count_insns=args.count_insns,
            trace_path=args.trace,
            trace_level=args.trace_level,
            trace_window=args.trace_filter or (BOOT_WINDOW if image is None else None),
            guest_name=guest,
            cache_dir=args.cache_dir,
            cache_size=args.cache_size << 20,
            realtime=args.realtime,
            keys=keys,
            cpu=cpu,
            machine=args.machine,
            disks=plan.ide_images() if plan is not None else (),
        )
        if image is None:
            from bt.pcboot import pc_boot

            assert plan is not None or linux is not None
            boot = pc_boot(config, plan, sink, debug_sink, _note, linux)
            machine = boot.machine
            bios_lines = boot.stat_lines
        else:
            machine = Machine(config, image, sink, debug_sink)
        if args.display or (args.keys is None and sys.stdin.isatty()):
            from bt.console import HostConsole

            console = HostConsole(
                machine.kbd if args.keys is None else None, machine.vga if args.display else None
            )
            console.open()
            console.serial(bytes(early))
            machine.attach_console(console.poll, console.wait)
        result = machine.run(max_insns=args.max_insns, timeout=args.timeout)
    finally:
        if console is not None:
            console.close()
        elif early:
            sys.stdout.buffer.write(early)
        sys.stdout.flush()
        for handle in (fh, debug_fh):
            if handle is not None:
                handle.close()
    if args.vga_dump:
        sys.stdout.write(machine.vga.screen_text() + "\n")
        sys.stdout.flush()
    cache_path = args.save_cache
    if args.inspect and not cache_path:
        from bt.inspector.command import temporary_cache_path

        cache_path = temporary_cache_path()
    if cache_path:
        from bt.cachefile import save_cache

        rl = machine.runloop
        try:
            save_cache(
                cache_path,
                machine.cache,
                machine.engine.read_code,
                {
                    "guest": guest,
                    "result": result.kind,
                    "status": result.status,
                    "run_stats": rl.stats(),
                    "guest_insns": rl.stats().guest_insns,
                },
                rl.executions if rl.stats().guest_insns is not None else None,
            )
        except OSError as exc:
            raise OptionError(
                f"--save-cache: cannot write {args.save_cache}: {exc.strerror}"
            ) from None
    if args.stats:
        from bt.report import format_stats

        sys.stderr.write(format_stats(machine, result))
        lines = bios_lines()
        if lines:
            sys.stderr.write("BIOS services:\n" + "".join(f"  {line}\n" for line in lines))
    if args.inspect:
        from bt.inspector.command import inspect_after_run

        inspect_after_run(cache_path, temporary=not args.save_cache)
    if result.kind == "crash":
        where = _where(machine, result.eip)
        sys.stderr.write(f"bt: guest crashed at {where}: {result.message}\n")
        return EXIT_CRASH
    if result.kind in ("limit", "signal"):
        where = _where(machine, result.eip)
        sys.stderr.write(f"bt: guest stopped at {where}: {result.message}\n")
        return result.status
    demo = args.guest is None and not disk_boot and firmware is None
    if demo and result.kind == "exit-port" and result.status == DEMO_SUCCESS:
        return 0  # the demo ends as QEMU runs it (port 0xf4, value 0); `bt run` reports success
    return result.status


def _where(machine: Machine, eip: int) -> str:
    """Where the guest stopped, as a debugger names it: the EIP, and in real and V86 mode
    CS:IP with the mode (the EIP alone is an offset in the guest's CS there)."""
    vcpu = machine.vcpu
    if not vcpu.real_segments:
        return f"0x{eip:08x}"
    mode = "V86 mode" if vcpu.v86 else "real mode"
    return f"0x{eip:08x} ({vcpu.segs['cs'].selector:04x}:{eip & 0xFFFF:04x}, {mode})"


def _note(line: str) -> None:
    """A one-line note about the guest's run (a BIOS service it called that is missing)."""
    sys.stderr.write(f"bt: {line}\n")
    sys.stderr.flush()


def tune_gc() -> None:
    """Collect young objects less often: translation blocks live for the whole run, and the
    default thresholds make the cyclic collector rescan them thousands of times (measured:
    translation runs at half speed with the defaults)."""
    gc.set_threshold(50000, 20, 100)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `bt` console script."""
    tune_gc()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["run"]
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the subcommand whose options these are not
        words = ["bt", args.command, getattr(args, "trace_command", None)]
        sub = BtParser(prog=" ".join(w for w in words if w))
        sub.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "trace":
            return cmd_trace(args)
        if args.command == "inspect":
            from bt.inspector.command import cmd_inspect

            return cmd_inspect(args)
        parser.print_help()
        return EXIT_BAD_INPUT
    except BadInput as exc:
        sys.stderr.write(f"bt: error: {exc}\n")
        return EXIT_BAD_INPUT
    except INTERNAL_ERRORS as exc:
        sys.stderr.write(f"bt: internal error: {exc}\n")
        return EXIT_INTERNAL
    except (BtError, TranslationError) as exc:
        sys.stderr.write(f"bt: error: {exc}\n")
        return EXIT_CRASH
    except KeyboardInterrupt:
        sys.stderr.write("bt: interrupted\n")
        return 130
    except Exception as exc:  # a bug in bt: one line, the traceback only on request
        if os.environ.get("BT_TRACEBACK"):
            import traceback

            traceback.print_exc()
        sys.stderr.write(
            f"bt: internal error: {type(exc).__name__}: {exc} (set BT_TRACEBACK=1 for details)\n"
        )
        return EXIT_INTERNAL


def entry() -> NoReturn:
    """The `bt` console script and `python -m bt`: main(), then an exit that skips tearing down
    the interpreter (freeing every translation block of a large run took ~0.3 s after a
    --timeout or a signal had already ended it). Output is flushed first; every file bt writes
    (traces, cache files, the store) is closed before main() returns."""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
