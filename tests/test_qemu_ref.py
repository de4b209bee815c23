"""The QEMU references hold the Intel SDM's bytes where QEMU 7.2 deviates (tools/qemu_ref.py's
sdm_corrected), and the committed paging references agree with it."""

from __future__ import annotations

import re
from pathlib import Path

from tools.qemu_ref import elf_symbol, sdm_corrected

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "guests" / "expected"


def test_rsvd_fault_gets_p() -> None:
    qemu = b"  #PF cr2=0x01100000 err=0x08 eip=0x00101e95\n  #PF cr2=0x00400000 err=0x0c eip=0x1\n"
    assert sdm_corrected("paging", qemu) == (
        b"  #PF cr2=0x01100000 err=0x09 eip=0x00101e95\n  #PF cr2=0x00400000 err=0x0d eip=0x1\n"
    )


def test_other_error_codes_and_guests_untouched() -> None:
    line = b"  #PF cr2=0x00402000 err=0x02 eip=0x00101855\n"
    assert sdm_corrected("paging", line) == line
    rsvd = b"  #PF cr2=0x01100000 err=0x08 eip=0x00101e95\n"
    assert sdm_corrected("control", rsvd) == rsvd


def test_pdpte_fault_inserted_once() -> None:
    qemu = (
        b"PDPT[1] made present without MOV CR3\nafter MOV CR3 value=0x1badb002\n"
        b"done page_faults=4\n"
    )
    fixed = sdm_corrected("pae", qemu)
    eip = elf_symbol("pae", "pdpte_read")
    assert fixed == (
        b"PDPT[1] made present without MOV CR3\n"
        b"  #PF cr2=0x40100000 err=0x00 eip=0x%08x\n"
        b"after MOV CR3 value=0x1badb002\ndone page_faults=5\n" % eip
    )
    assert sdm_corrected("pae", fixed) == fixed


def test_committed_references_follow_the_sdm() -> None:
    # RSVD implies P (SDM 4.7) in every committed reference that prints #PF error codes.
    seen = 0
    for ref in sorted(EXPECTED.glob("*.serial")):
        for err in re.findall(rb"#PF cr2=0x[0-9a-f]{8} err=0x([0-9a-f]{2})", ref.read_bytes()):
            seen += 1
            assert not int(err, 16) & 0x08 or int(err, 16) & 0x01, ref.name
    assert seen > 30
    assert b"#PF cr2=0x40100000 err=0x00" in (EXPECTED / "pae.serial").read_bytes()
