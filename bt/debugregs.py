"""DebugRegisters: what the guest's DR0-DR7 arm in the engine (instruction, data and I/O
breakpoints) and the DR6 a #DB trap leaves; the exit dispatcher asks it after each MOV to DRn."""

from __future__ import annotations

from bt.breakpoints import data_watches, instruction_breakpoints, io_watches, trap_dr6
from bt.cache.cache import TranslationCache
from bt.callouts.context import CalloutContext
from bt.engine import Engine
from bt.exits import Unsupported, VcpuExit
from bt.keypolicy import KeyPolicy
from bt.runstate import RunState
from bt.vcpu import Vcpu
from bt.watchpoints import AccessWatch

DR6_BS = 0x4000  # DR6: the #DB came from single-stepping


class DebugRegisters:
    """Arms the breakpoints DR7 enables and records hits in DR6."""

    def __init__(
        self,
        engine: Engine,
        vcpu: Vcpu,
        ctx: CalloutContext,
        cache: TranslationCache,
        keys: KeyPolicy,
        state: RunState,
    ) -> None:
        self.engine = engine
        self.vcpu = vcpu
        self.cache = cache
        self.keys = keys
        self.state = state
        # Data and I/O breakpoints: the hits of copied code, of callouts and of port I/O.
        self.watch = AccessWatch(engine, ctx, cache)
        self.mem = ctx.mem
        ctx.watch = self.watch

    def written(self, eip: int) -> VcpuExit | None:
        """After a MOV to DRn at guest `eip`: instruction breakpoints start blocks of their
        own, entered only through the lookup that raises #DB (bt/blockmaker.py); data
        breakpoints install the memory hook and make blocks of one instruction; I/O
        breakpoints send every port access to Python. Code translated before goes (a whole
        flush: breakpoints change seldom)."""
        dr = self.vcpu.dr
        io = io_watches(dr)
        self.engine.native_io.hold(bool(io))
        data = data_watches(dr)
        if data and not self.watch.precise:
            return Unsupported("a data breakpoint (this host has no native backstop)", eip)
        changed = self.watch.arm(data, io)
        # The monitor's own accesses are looked at only while a data breakpoint is enabled.
        self.mem.on_access = self.watch.monitor_access if data else None
        points = instruction_breakpoints(dr)
        if points != self.cache.entry_checks or changed:
            self.cache.entry_checks = points
            self.keys.one_insn = bool(data)
            self.cache.flush("breakpoints")
            self.state.current_hit = True
        return None

    def paging(self) -> tuple[int, int, int]:
        """What decides where linear addresses map (compared around each callout)."""
        v = self.vcpu
        return (v.cr0, v.cr3, v.cr4)

    def after_callout(self, kind: str, paging: tuple[int, int, int]) -> None:
        """A callout of `kind` ran with `paging` before it, while data breakpoints were
        enabled: the watched linear ranges may map elsewhere now."""
        if kind == "invlpg" or self.paging() != paging:
            self.watch.place()

    def trap(self, hits: int, step: bool) -> None:
        """DR6 for a #DB trap: B0-B3 of the data or I/O breakpoints hit, BS for a step."""
        dr = self.vcpu.dr
        if hits:
            dr[6] = trap_dr6(dr[6], hits)
        if step:
            dr[6] |= DR6_BS
