"""The callout table: the kind named by translator/sensitive.py -> the handler implementing it."""

from __future__ import annotations

from collections.abc import Callable

from bt.callouts import control, csaccess, flags, fpu, io, segments, system
from bt.callouts.context import CalloutContext
from bt.exits import VcpuExit
from translator.insn import GuestInsn

Handler = Callable[[CalloutContext, GuestInsn], VcpuExit | None]

HANDLERS: dict[str, Handler] = {
    "cli": flags.cli,
    "sti": flags.sti,
    "pushf": flags.pushf,
    "popf": flags.popf,
    "stac": flags.stac,
    "clac": flags.clac,
    "in": io.port_in,
    "out": io.port_out,
    "ins": io.ins,
    "outs": io.outs,
    "lgdt": system.lgdt,
    "lidt": system.lidt,
    "lldt": system.lldt,
    "ltr": system.ltr,
    "sgdt": system.sgdt,
    "sidt": system.sidt,
    "sldt": system.sldt,
    "str": system.str_,
    "smsw": system.smsw,
    "lmsw": system.lmsw,
    "mov_from_cr": system.mov_from_cr,
    "mov_to_cr": system.mov_to_cr,
    "mov_dr": system.mov_dr,
    "clts": system.clts,
    "invlpg": system.invlpg,
    "cache": system.cache,
    "rdmsr": system.rdmsr,
    "wrmsr": system.wrmsr,
    "rdpmc": system.rdpmc,
    "cpuid": system.cpuid,
    "rdtsc": system.rdtsc,
    "lar": system.lar,
    "lsl": system.lsl,
    "verr": system.verr,
    "verw": system.verw,
    "hlt": system.hlt,
    "ud": system.ud,
    "bound": system.bound,
    "mov_from_seg": segments.mov_from_seg,
    "mov_to_seg": segments.mov_to_seg,
    "push_seg": segments.push_seg,
    "pop_seg": segments.pop_seg,
    "load_far_ptr": segments.load_far_ptr,
    "ret": control.ret,
    "jmp_indirect": control.jmp_indirect,
    "call_indirect": control.call_indirect,
    "branch16": control.branch16,
    "far_jmp": control.far_jmp,
    "far_call": control.far_call,
    "far_ret": control.far_ret,
    "iret": control.iret,
    "int": control.int_n,
    "int3": control.int3,
    "into": control.into,
    "int1": control.int1,
    "sysenter": control.sysenter,
    "sysexit": control.sysexit,
    "gp0": csaccess.gp0,
    "cs_check": csaccess.cs_check,
    "cs_patch": csaccess.cs_patch,
    "cs_string": csaccess.string,
    "fpu_env": fpu.fpu_env,
    "fxsave": fpu.fxsave,
}
