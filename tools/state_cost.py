"""Measures the machine state record: its size (pickle, JSON) and the cost of save and restore."""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import timeit
from pathlib import Path

from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

ROOT = Path(__file__).resolve().parent.parent
MEM = 16 << 20


def machine(guest: Path) -> Machine:
    """A fresh machine for `guest`, its output dropped."""
    return Machine(MachineConfig(MEM), load_guest(str(guest), MEM), lambda _b: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("guest", nargs="?", default=str(ROOT / "guests/bin/platform.elf"))
    parser.add_argument("--insns", type=int, default=20_000, help="run this far first")
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    m = machine(Path(args.guest))
    m.run(max_insns=args.insns)
    state = m.save_state()
    fresh = machine(Path(args.guest))
    as_json = json.dumps(dataclasses.asdict(state), default=bytes.hex)
    save = timeit.timeit(m.save_state, number=args.rounds) / args.rounds
    restore = timeit.timeit(lambda: fresh.restore_state(state), number=args.rounds) / args.rounds
    print(
        f"after {args.insns} instructions: pickle {len(pickle.dumps(state))} bytes, "
        f"JSON {len(as_json)} bytes"
    )
    print(
        f"save_state {save * 1e3:.2f} ms, restore_state {restore * 1e3:.2f} ms "
        f"(checked, all or nothing; {args.rounds} rounds)"
    )


if __name__ == "__main__":
    main()
