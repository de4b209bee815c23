"""INT 13h equals QEMU's (SeaBIOS 1.16): guests/disk/int13probe's calls, every result compared.

tools/int13_reference.py boots the probe under qemu-system-i386 with each configuration of
floppies and hard disks and makes the same calls on bt's Int13 over the same images: the
registers, CF, the parameter buffer (DAP, EDD result), the DPTE, the sectors the buffer got
and the BDA status bytes must all be equal.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.int13_reference import CONFIGS, QEMU, calls, compare

pytestmark = pytest.mark.skipif(shutil.which(QEMU) is None, reason=f"{QEMU} is not installed")


def test_the_probe_makes_every_call_of_its_list() -> None:
    assert len(calls()) > 80
    assert {rec[0] >> 8 for rec in calls()} >= {0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x15,
                                                   0x16, 0x41, 0x42, 0x43, 0x48}  # fmt: skip


@pytest.mark.parametrize("name", list(CONFIGS))
def test_int13_equals_qemu(name: str, tmp_path: Path) -> None:
    diffs = compare(name, tmp_path)
    assert not diffs, "\n".join(diffs)
