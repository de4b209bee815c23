"""The PCI BIOS (INT 1Ah AH=B1h) as SeaBIOS 1.16 answers it, over configuration mechanism 1.

Every function reaches the configuration space through ports 0xCF8/0xCFC as SeaBIOS's
pci_config_read*/write* do (so CONFIG_ADDRESS is left as SeaBIOS leaves it): AL=01h
installation check ("PCI ", version 2.10, mechanism 1, last bus 0, EDI the 32-bit entry),
02h find device (CX device, DX vendor, SI index), 03h find class (ECX class code, SI index),
08h-0Ah read and 0Bh-0Dh write a byte, word or dword (BX bus/devfn, DI register; no register
check, as SeaBIOS), 0Eh the IRQ routing options (SeaBIOS's $PIR slots for QEMU's PIIX3); any
other AL: 81h. Success: AH = 0, CF clear; failure: AH = the code, CF set. Machines without PCI
(isapc) get the same answers: SeaBIOS installs its PCI BIOS there too, and its scans find
nothing (every read is all ones).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bt.bios.api import BiosCall, BiosCpu, Outcome, Ports, Service, ServiceResult

ADDRESS, DATA = 0xCF8, 0xCFC
ENABLE = 0x80000000
FUNC_NOT_SUPPORTED = 0x81
DEVICE_NOT_FOUND = 0x86
BUFFER_TOO_SMALL = 0x89
PCI_SIGNATURE = 0x20494350  # "PCI "
VERSION = 0x0210
MECHANISM_1 = 0x01
LAST_BUS = 0
# The 32-bit entry SeaBIOS 1.16.2 reports in EDI: bios-256k.bin (pc) and bios.bin (isapc)
# differ (measured under QEMU 7.2; Linux prints it: "PCI BIOS revision 2.10 entry at ...").
ENTRY32 = {"pc": 0xFD1CA, "isapc": 0xFD30A}
PIR_SLOTS = 6
PIRQ_BITMAP = 0xDEF8  # IRQs 3-7, 9-12, 14, 15 routable
EXCLUSIVE_IRQS = 0x0000


def pir_slots() -> bytes:
    """SeaBIOS's $PIR slot entries for QEMU's PIIX3: devices 1-6 on bus 0, INTA#-INTD# of
    device d on PIRQ links 0x60 + (d - 1 + pin) % 4, slot numbers 0 (embedded) to 5."""
    out = bytearray()
    for i in range(PIR_SLOTS):
        out += bytes((0, (i + 1) << 3))
        for pin in range(4):
            out += struct.pack("<BH", 0x60 + (i + pin) % 4, PIRQ_BITMAP)
        out += bytes((i, 0))
    return bytes(out)


@dataclass(frozen=True, slots=True)
class _Config:
    """pci_config_* of SeaBIOS: one CONFIG_ADDRESS write, one CONFIG_DATA access."""

    ports: Ports

    def read(self, bdf: int, reg: int, size: int) -> int:
        self.ports.write(ADDRESS, 4, ENABLE | bdf << 8 | (reg & 0xFC))
        return self.ports.read(DATA + (reg & (4 - size)), size)

    def write(self, bdf: int, reg: int, size: int, value: int) -> None:
        self.ports.write(ADDRESS, 4, ENABLE | bdf << 8 | (reg & 0xFC))
        self.ports.write(DATA + (reg & (4 - size)), size, value)

    def next_bdf(self, bdf: int, bus: int) -> int:
        """SeaBIOS's pci_next: the next present function after `bdf` on `bus`, or -1
        (functions 1-7 only of a multi-function device)."""
        if bdf & 7 == 0 and bdf >= 0 and not self.read(bdf, 0x0E, 1) & 0x80:
            bdf += 8
        else:
            bdf += 1
        while bdf >> 8 == bus:
            if self.read(bdf, 0x00, 2) not in (0x0000, 0xFFFF):
                return bdf
            bdf += 8 if bdf & 7 == 0 else 1
        return -1

    def find(self, reg: int, want: int, shift: int, index: int) -> int | None:
        """The `index`-th function on buses 0..LAST_BUS whose dword at `reg`, shifted right
        by `shift`, equals `want`: its bus/devfn."""
        for bus in range(LAST_BUS + 1):
            bdf = self.next_bdf(bus * 256 - 1, bus)
            while bdf >= 0:
                if (self.read(bdf, reg, 4) >> shift) == want:
                    if index == 0:
                        return bdf
                    index -= 1
                bdf = self.next_bdf(bdf, bus)
        return None


def _done(cpu: BiosCpu, code: int = 0) -> ServiceResult:
    cpu.set_reg("ah", code)
    cpu.set_flag("cf", code != 0)
    return Outcome.DONE


class PciBios:
    """INT 1Ah AH=B1h."""

    def __init__(self, machine: str) -> None:
        self.entry32 = ENTRY32[machine]

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu = call.cpu
        cfg = _Config(call.ports)
        al, bx, di = cpu.reg("al"), cpu.reg("bx"), cpu.reg("di")
        if al == 0x01:
            cpu.set_reg("al", MECHANISM_1)
            cpu.set_reg("bx", VERSION)
            cpu.set_reg("cl", LAST_BUS)
            cpu.set_reg("edx", PCI_SIGNATURE)
            cpu.set_reg("edi", self.entry32)
            return _done(cpu)
        if al in (0x02, 0x03):
            if al == 0x02:
                found = cfg.find(0x00, cpu.reg("cx") << 16 | cpu.reg("dx"), 0, cpu.reg("si"))
            else:
                found = cfg.find(0x08, cpu.reg("ecx"), 8, cpu.reg("si"))
            if found is None:
                return _done(cpu, DEVICE_NOT_FOUND)
            cpu.set_reg("bx", found)
            return _done(cpu)
        if 0x08 <= al <= 0x0A:
            size = 1 << (al - 0x08)
            cpu.set_reg(("cl", "cx", "ecx")[al - 0x08], cfg.read(bx, di, size))
            return _done(cpu)
        if 0x0B <= al <= 0x0D:
            size = 1 << (al - 0x0B)
            cfg.write(bx, di, size, cpu.reg(("cl", "cx", "ecx")[al - 0x0B]))
            return _done(cpu)
        if al == 0x0E:
            return self._routing(call)
        return _done(cpu, FUNC_NOT_SUPPORTED)

    def _routing(self, call: BiosCall) -> ServiceResult:
        """AL=0Eh: ES:DI -> {size, buffer offset, buffer segment}; the size needed is written
        back, and the slots copied when the buffer holds them."""
        cpu, mem = call.cpu, call.mem
        param = cpu.linear("es", cpu.reg("di"))
        size, offset, seg = struct.unpack("<HHH", mem.read_phys(param, 6))
        slots = pir_slots()
        mem.write_phys(param, struct.pack("<H", len(slots)))
        if size < len(slots):
            return _done(cpu, BUFFER_TOO_SMALL)
        mem.write_phys((seg << 4) + offset, slots)
        cpu.set_reg("bx", EXCLUSIVE_IRQS)
        return _done(cpu)


class TimeOfDayAndPci:
    """INT 1Ah: AH=B1h to the PCI BIOS, every other function to the time-of-day service."""

    def __init__(self, clock: Service, pci: PciBios) -> None:
        self._clock = clock
        self._pci = pci

    def __call__(self, call: BiosCall) -> ServiceResult:
        if call.cpu.reg("ah") == 0xB1:
            return self._pci(call)
        return self._clock(call)
