"""ShadowPaging: guest paging served by Unicorn's own page walker, through shadow page tables.

The TLB-fill hook (bt/guestview.py) costs a Python call for every miss of Unicorn's TLB, and a
kernel that switches address spaces misses on every page after each MOV CR3. Here Unicorn walks
page tables in C instead: tables the monitor builds from the guest's (PAE, always 4 KiB leaves)
and keeps per guest address space, so a switch back to an address space finds its mappings
still there. Python runs only when a shadow entry is missing or read-only (Unicorn's own #PF).

Keeping the cache window out of the guest's data view (DESIGN fact 18): translated code runs at
real CPL 0 with CR4.SMAP, its pages are user pages (fetched freely from CPL 0) and guest data
pages supervisor pages, so a data access into the window faults, and the monitor lets the
engine run that code under the fill hook instead (`FALLBACK`).

Staying exact:
- A shadow entry is read-only while the guest's dirty bit is clear, so the first write faults
  and the walker sets D then; the walker sets A at the first access, as the hardware does.
- Every guest table a shadow entry follows is tracked: its mappings are read-only, and the
  first write makes it "unsynced" (writable, so a kernel filling a table pays one fault). At the
  points where a CPU must drop its TLB entries (MOV CR3, INVLPG, CR0/CR4 changes) every unsynced
  table is compared with its copy and the shadow entries of changed guest entries are dropped:
  the guest sees its changes exactly where a TLB would let it, and the tables are tracked again.
- The kind of access comes from the W bit of the error code Unicorn's walker computed (read
  from its saved context, bt/prevexception.py; it has no register for it), so a guest #PF is
  delivered exactly as the fill hook would, and A is set only where the hardware sets it.
- Pages holding translated code stay read-only (self-modifying code, `DENIED`).
Bounded: at most MAX_ROOTS address spaces and ARENA_PAGES table pages (bt/shadowtables.py);
beyond, all goes and is built again.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from unicorn import Uc

from bt.paging import READ, WRITE, PageFault, PageWalker, PhysRam
from bt.shadowtables import ADDR, LEAF, REGION, RW, WINDOW, D, P, ShadowRoot, ShadowTables

RETRY, FALLBACK, DENIED = 0, 1, 2  # what `fault` found (or a PageFault for the guest)
_W = 2  # the error code's write bit


class _Table:
    """A guest paging-structure page that shadow entries follow."""

    __slots__ = ("copy", "uses", "unsynced", "monitor_wrote")

    def __init__(self, copy: bytearray) -> None:
        self.copy = copy  # its contents when last synced
        self.uses: set[tuple[int, int, bool]] = set()  # (root slot, linear base, is a directory)
        self.unsynced = False
        self.monitor_wrote = False  # the monitor wrote it for the guest since the last sync


class ShadowPaging:
    """What the shadow tables hold: fills from the guest's tables, their tracking and syncs."""

    def __init__(self, uc: Uc, ram: memoryview, ram_size: int, memory: PhysRam) -> None:
        self._ram = ram
        self._ram_size = ram_size
        self._memory = memory
        self.shadow = ShadowTables(uc, ram_size)
        self.walker: PageWalker | None = None  # reads through this object (set by the builder)
        self.protected: set[int] = set()  # physical pages holding translated code (the view's)
        self.rom: Container[int] = ()  # ROM pages (the view's): never writable here
        self.flush_tlb: Callable[[], None] = lambda: None
        self.pae = False  # the guest's tables have 8-byte entries
        self._mode: tuple[int, ...] = ()
        self.tables: dict[int, _Table] = {}  # guest table page -> what follows it
        self._unsynced: set[int] = set()
        self._rmap: dict[int, set[int]] = {}  # guest page -> arena offsets mapping it writable
        # Regions filled whole from a guest large page: physical 2 MiB -> (shadow PT, base).
        self._bulk: dict[int, set[tuple[int, int]]] = {}
        self.current: ShadowRoot | None = None
        self.denied_page = 0  # the code page of the last DENIED
        self.stats_fills = 0
        self.stats_unsyncs = 0
        self.stats_resets = 0

    # -- the guest's memory, as the walker reads and writes it ---
    def read_u32(self, phys: int) -> int:
        """A walker read."""
        return self._memory.read_u32(phys)

    def read_u64(self, phys: int) -> int:
        """A walker read."""
        return self._memory.read_u64(phys)

    def write_u32(self, phys: int, value: int) -> None:
        """A walker's A/D update: a synced table's copy takes it too (it is no guest change),
        and the table stays synced."""
        page = phys & ~0xFFF
        t = self.tables.get(page)
        synced = t is not None and not t.unsynced
        self._memory.write_u32(phys, value)  # through the monitor's write path (code pages)
        if t is not None and synced:
            self._unsynced.discard(page)
            t.unsynced = t.monitor_wrote = False
            off = phys & 0xFFF
            t.copy[off : off + 4] = self._ram[phys : phys + 4]

    def monitor_wrote(self, gpage: int) -> None:
        """The monitor wrote a followed table for the guest (GuestMemory): compare it at the
        next sync, as if translated code had."""
        t = self.tables.get(gpage)
        if t is not None:
            t.unsynced = t.monitor_wrote = True
            self._unsynced.add(gpage)

    # -- address spaces ---
    def _reset(self) -> None:
        """Forget every shadow table (a mode change, or a bound reached). The containers are
        cleared in place: GuestMemory holds `tables`."""
        self.shadow.reset()
        self.tables.clear()
        self._unsynced.clear()
        self._rmap.clear()
        self._bulk.clear()
        self.current = None
        self.stats_resets += 1

    def set_mode(self, mode: tuple[int, ...], cr3: int, user: bool, pdptes: tuple[int, ...]) -> int:
        """After the guest's paging registers changed (paging on): the real CR3 for the address
        space `cr3` at this privilege. `mode` holds what decides a translation besides the
        tables (PAE, PSE, WP, NXE): when it changes, every shadow goes."""
        if mode != self._mode:
            self._mode = mode
            self._reset()
        self.pae = bool(mode[0])
        self.sync()
        return self.activate(cr3, user, pdptes)

    def activate(self, cr3: int, user: bool, pdptes: tuple[int, ...]) -> int:
        """Switch to the shadow of address space `cr3` (built on first use); its real CR3."""
        key = (cr3, user)
        root = self.shadow.roots.get(key)
        if root is not None and root.pdptes != pdptes:
            self._drop_root(root)
            root = None
        if root is None:
            root = self._new_root(key, pdptes)
        self.current = root
        return self.shadow.real_cr3(root)

    def _new_root(
        self, key: tuple[int, bool], pdptes: tuple[int, ...], slot: int | None = None
    ) -> ShadowRoot:
        if not self.shadow.room(8):
            self._reset()
        root = self.shadow.new_root(key, pdptes, slot)
        # The guest's directories are followed from the start.
        if self.pae:
            for i, e in enumerate(pdptes):
                if e & P:
                    self._track(e & ADDR, (root.slot, i << 30, True))
        else:
            self._track(key[0] & ~0xFFF, (root.slot, 0, True))
        return root

    def _drop_root(self, root: ShadowRoot) -> None:
        self.shadow.drop_root(root)
        for t in self.tables.values():
            t.uses = {u for u in t.uses if u[0] != root.slot}
        if self.current is root:
            self.current = None

    # -- Unicorn's #PF ---
    def fault(self, linear: int, error_code: int) -> int | PageFault:
        """Unicorn's page walk failed at `linear` in translated code, with `error_code` (its
        W bit tells a read from a write, as the guest's walk will see it: a read-modify-write
        faults first as a read, since QEMU loads first): mend the shadow (RETRY), leave the
        access to the fill hook (FALLBACK: the monitor's window), report a write to
        translated code (DENIED), or give the guest's own #PF, exact."""
        root = self.current
        walker = self.walker
        if root is None or walker is None or (linear >> 21) in WINDOW:
            return FALLBACK  # the guest addresses what the monitor's window hides
        off, entry = self.shadow.leaf(root, linear)
        if off < 0 and not self.shadow.room(1):
            # Out of table pages: start over with this address space alone, in the same PDPT
            # slot (the real CR3 Unicorn walks from stays right).
            self._reset()
            root = self.current = self._new_root(root.key, root.pdptes, root.slot)
        user = root.key[1]
        # Present, so read-only: a write (reads and fetches would have passed).
        access = WRITE if entry & P or error_code & _W else READ
        try:
            phys, write_ok = walker.translate(linear, access, user)
        except PageFault as fault:
            return fault
        self.stats_fills += 1
        src = walker.last_table
        if src >= 0:
            span = REGION if self.pae else 2 * REGION
            self._track(src, (root.slot, linear & ~(span - 1), False))
        if off < 0:
            pt = self.shadow.add_region(root, linear >> 21, src)
            off = pt + ((linear >> 12) & 511) * 8
            if src < 0:
                # A large page: its A (and D) bits are the PDE's, which this walk just set, so
                # the whole region can be mapped now without changing what the guest sees.
                base = phys - (linear & (REGION - 1))
                keep = (self.protected, self.tables, self.rom)  # code, guest tables, ROM
                if self.shadow.fill_region(pt, base, write_ok, keep):
                    self._bulk.setdefault(base >> 21, set()).add((pt, base))
        gpage = phys & ~0xFFF
        if access == WRITE and gpage in self.rom:
            return FALLBACK  # ROM: the write runs under the fill hook, which drops it
        writable = write_ok and gpage not in self.protected and gpage not in self.rom
        t = self.tables.get(gpage)
        if writable and t is not None and not t.unsynced:
            writable = False
        if access == WRITE and not writable:
            if gpage in self.protected:
                self.denied_page = gpage
                return DENIED
            if t is not None:  # the guest writes one of its tables: let it, until a sync
                t.unsynced = True
                self._unsynced.add(gpage)
                self.stats_unsyncs += 1
                writable = True
        # A guest table's writable entries start with D clear: Unicorn's walker sets it at
        # the first write through them, which tells `sync` the table changed.
        leaf = LEAF & ~D if t is not None else LEAF
        self.shadow.write(off, self.shadow.unicorn_page(gpage) | leaf | (RW if writable else 0))
        if writable:
            self._rmap.setdefault(gpage, set()).add(off)
        return RETRY

    # -- tracking the guest's tables ---
    def _track(self, gpage: int, use: tuple[int, int, bool]) -> None:
        if gpage >= self._ram_size:
            return  # not RAM: nothing the guest can change
        t = self.tables.get(gpage)
        if t is None:
            t = self.tables[gpage] = _Table(bytearray(self._ram[gpage : gpage + 0x1000]))
            self.write_protect(gpage)
        t.uses.add(use)

    def write_protect(self, gpage: int) -> None:
        """No shadow entry may write `gpage` (it holds a guest table, or translated code)."""
        offs = self._rmap.pop(gpage, set())
        for pt, base in self._bulk.get(gpage >> 21, ()):
            if base <= gpage < base + REGION:
                offs.add(pt + ((gpage - base) >> 12) * 8)
        if not offs:
            return
        shadow = self.shadow
        want = shadow.unicorn_page(gpage)
        for off in offs:
            e = shadow.read(off)
            if e & RW and e & ADDR == want:
                shadow.write(off, e & ~RW)
        self.flush_tlb()

    def sync(self) -> None:
        """The guest's TLB flush point: every change to an unsynced table reaches the
        shadow (the entries following a changed guest entry go). An unsynced table the guest
        wrote since the last sync stays writable (a kernel writes the same tables again and
        again: each write fault would cost a monitor entry); one it left alone is tracked
        again."""
        if not self._unsynced:
            return
        esize = 8 if self.pae else 4
        shadow = self.shadow
        for gpage in list(self._unsynced):
            t = self.tables.get(gpage)
            if t is None:
                self._unsynced.discard(gpage)
                continue
            written = t.monitor_wrote
            t.monitor_wrote = False
            want = shadow.unicorn_page(gpage)
            for off in self._rmap.get(gpage, ()):
                e = shadow.read(off)
                if e & D and e & RW and e & ADDR == want:
                    written = True
                    shadow.write(off, e & ~D)
            if not written:
                t.unsynced = False
                self._unsynced.discard(gpage)
                self.write_protect(gpage)
                continue
            now = self._ram[gpage : gpage + 0x1000]
            old = t.copy
            for c in range(0, 0x1000, 256):
                if now[c : c + 256] == old[c : c + 256]:
                    continue
                for j in range(c, c + 256, esize):
                    if now[j : j + esize] != old[j : j + esize]:
                        self._changed(t, j // esize)
            t.copy = bytearray(now)
        self.flush_tlb()

    def _changed(self, t: _Table, index: int) -> None:
        """Entry `index` of a followed table changed: drop what follows it."""
        shadow = self.shadow
        for slot, base, directory in list(t.uses):
            root = shadow.by_slot.get(slot)
            if root is None:
                continue
            if not directory:
                off, _entry = shadow.leaf(root, base + (index << 12))
                if off >= 0:
                    shadow.write(off, 0)
                continue
            regions = ((base >> 21) + index,) if self.pae else (index * 2, index * 2 + 1)
            for region in regions:
                if region in root.pts:
                    self._drop_region(root, region)

    def _drop_region(self, root: ShadowRoot, region: int) -> None:
        src = self.shadow.drop_region(root, region)
        if src < 0 or (not self.pae and root.src.get(region ^ 1) == src):
            return  # a large page, or the other half of the guest PT's 4 MiB still follows it
        t = self.tables.get(src)
        if t is not None:
            span = REGION if self.pae else 2 * REGION
            t.uses.discard((root.slot, (region * REGION) & ~(span - 1), False))
            if not t.uses:
                del self.tables[src]
                self._unsynced.discard(src)

    def invalidate(self, linear: int) -> None:
        """INVLPG: the page's entry goes from this address space's shadows (both privileges);
        the next access walks the guest's tables as they are now."""
        cur = self.current
        if cur is None:
            return
        for user in (False, True):
            root = self.shadow.roots.get((cur.key[0], user))
            if root is not None:
                off, _entry = self.shadow.leaf(root, linear)
                if off >= 0:
                    self.shadow.write(off, 0)
        self.flush_tlb()

    def monitor_page(self, visible: bool) -> None:
        """Show the monitor's page (its GDT) while the monitor loads a segment register."""
        self.shadow.monitor_page(visible)

    def statistics(self) -> dict[str, int]:
        """Counts for --stats."""
        return {
            "shadow_fills": self.stats_fills,
            "shadow_unsyncs": self.stats_unsyncs,
            "shadow_resets": self.stats_resets,
            "shadow_roots": len(self.shadow.roots),
            "shadow_tables": len(self.tables),
        }
