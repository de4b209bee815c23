"""Isolation invariants checked after a guest run: the translation cache, the monitor's page and
the real CPU state hold exactly what the monitor put there, whatever the guest did."""

from __future__ import annotations

from unicorn import x86_const as R

from bt.layout import MON_LINEAR, MON_PHYS, MON_SIZE, TC_LINEAR, TC_PHYS, TC_SIZE
from bt.machine import Machine
from bt.realsegments import GDT_LIMIT, SEL_CODE

IF, TF, NT, VM, AC = 0x200, 0x100, 0x4000, 0x20000, 0x40000


class MonitorWatch:
    """Records every byte the monitor writes into the translation cache and its own page, from
    the moment it is attached (the page's earlier bytes are taken as they are then)."""

    def __init__(self, m: Machine) -> None:
        self.m = m
        uc = m.engine.uc
        self.cache: dict[int, int] = {}  # translated-code linear address -> byte
        self.page = bytearray(uc.mem_read(MON_PHYS, MON_SIZE))
        write_code = m.engine.write_code

        def recording_write_code(addr: int, data: bytes) -> None:
            self.cache.update(zip(range(addr, addr + len(data)), data, strict=True))
            write_code(addr, data)

        mem_write = uc.mem_write

        def recording_mem_write(addr: int, data: bytes) -> None:
            if MON_PHYS <= addr < MON_PHYS + MON_SIZE:
                self.page[addr - MON_PHYS : addr - MON_PHYS + len(data)] = data
            elif TC_PHYS <= addr < TC_PHYS + TC_SIZE:
                for i, b in enumerate(data):
                    self.cache[addr - TC_PHYS + TC_LINEAR + i] = b
            mem_write(addr, data)

        m.engine.write_code = recording_write_code  # type: ignore[method-assign]
        uc.mem_write = recording_mem_write  # type: ignore[method-assign]

    def violations(self) -> list[str]:
        """What differs from what the monitor wrote, and real CPU state the guest changed."""
        eng, bad = self.m.engine, []
        addrs = sorted(self.cache)
        i = 0
        while i < len(addrs):  # one read per contiguous run of written bytes
            j = i
            while j + 1 < len(addrs) and addrs[j + 1] == addrs[j] + 1:
                j += 1
            now = eng.read_code(addrs[i], j - i + 1)
            changed = [a for k, a in enumerate(addrs[i : j + 1]) if now[k] != self.cache[a]]
            if changed:
                bad.append(f"translated code at 0x{changed[0]:08x} changed")
                break
            i = j + 1
        page = bytes(eng.uc.mem_read(MON_PHYS, MON_SIZE))
        if page != bytes(self.page):
            at = next(i for i in range(MON_SIZE) if page[i] != self.page[i])
            bad.append(f"monitor page at 0x{MON_LINEAR + at:08x} changed")
        gdtr = eng.uc.reg_read(R.UC_X86_REG_GDTR)
        if tuple(gdtr[1:3]) != (MON_LINEAR, GDT_LIMIT):
            bad.append(f"real GDTR is {gdtr}")
        cs = eng.read_reg(R.UC_X86_REG_CS)
        if cs != SEL_CODE:
            bad.append(f"real CS is {cs:#x} (CPL {cs & 3})")
        eflags = eng.read_reg(R.UC_X86_REG_EFLAGS)
        if eflags & (TF | NT | VM | AC):
            # AC would lift SMAP, which keeps the cache window out of the guest's data view.
            bad.append(f"real EFLAGS {eflags:#x}: TF, NT, VM or AC set")
        if bool(eflags & IF) != self.m.vcpu.interrupts_enabled:
            bad.append(f"real IF {bool(eflags & IF)} is not the virtual IF")
        return bad
