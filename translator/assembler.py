"""Keystone assembly through checked templates: assembled once, verified by Capstone, patched."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import capstone

from bt.translator.errors import AssemblyError

# Marker immediates: distinctive values that cannot occur by accident in a short template.
_MARKERS = (0x7E5A1C01, 0x7E5A1C02, 0x7E5A1C03)

# Keystone's encodings of the sequences every run assembles at start-up (the rewriter's exit
# slot, callout and push template), at address 0: with them Keystone, ~10 ms of `bt run`'s
# start-up, is loaded only for any other text. They are still decoded back and checked like
# Keystone's output, and tests/test_translator.py requires Keystone to give the same bytes.
KNOWN_ENCODINGS: dict[str, bytes] = {
    "int 0x80; nop; nop; nop": bytes.fromhex("cd80909090"),
    "int 0x81": bytes.fromhex("cd81"),
    f"push {_MARKERS[0]:#x}": bytes.fromhex("68011c5a7e"),
}


@dataclass(frozen=True, slots=True)
class Template:
    """A pre-assembled instruction sequence whose 32-bit operands sit at known offsets."""

    name: str
    code: bytes
    fields: tuple[int, ...]  # byte offsets of each 32-bit field, in marker order
    relative: tuple[bool, ...]  # whether each field is a rel32 branch displacement
    mnemonics: tuple[str, ...]  # what Capstone decoded, for the inspector and tests

    def emit(self, *values: int, address: int = 0) -> bytes:
        """The bytes at `address` with each field set; rel32 fields take the absolute target."""
        if len(values) != len(self.fields):
            raise AssemblyError(f"template {self.name} takes {len(self.fields)} operands")
        out = bytearray(self.code)
        for off, val, rel in zip(self.fields, values, self.relative, strict=True):
            v = val - (address + off + 4) if rel else val
            out[off : off + 4] = struct.pack("<I", v & 0xFFFFFFFF)
        return bytes(out)


class Assembler:
    """Keystone for 32-bit x86 with a template cache; every encoding is checked by Capstone.

    Keystone now and then picks odd encodings (DESIGN.md fact 8: `sgdt [0x2000]` came out with
    a 0x66 prefix), so each template is decoded back and compared instruction by instruction
    against the text it came from before anything uses it.
    """

    def __init__(self) -> None:
        self._ks: Any = None  # keystone.Ks, made on first need
        self._cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self._templates: dict[str, Template] = {}
        self.keystone_calls = 0

    def assemble(self, text: str, address: int = 0) -> bytes:
        """Assemble `text` at `address` and check that Capstone decodes it to the same text."""
        known = KNOWN_ENCODINGS.get(text) if address == 0 else None
        code = known if known is not None else self.keystone(text, address)
        self._check(text, code, address)
        return code

    def keystone(self, text: str, address: int = 0) -> bytes:
        """Keystone's encoding of `text` at `address`, unchecked."""
        import keystone

        if self._ks is None:
            self._ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
        try:
            encoding, _ = self._ks.asm(text, address)
        except keystone.KsError as exc:
            raise AssemblyError(f"keystone refused {text!r}: {exc}") from exc
        self.keystone_calls += 1
        if not encoding:
            raise AssemblyError(f"keystone produced nothing for {text!r}")
        return bytes(encoding)

    def _check(self, text: str, code: bytes, address: int) -> tuple[str, ...]:
        wanted = [s.strip() for s in text.split(";") if s.strip()]
        decoded = list(self._cs.disasm(code, address))
        if sum(i.size for i in decoded) != len(code) or len(decoded) != len(wanted):
            raise AssemblyError(f"encoding of {text!r} does not decode back: {code.hex()}")
        for insn, src in zip(decoded, wanted, strict=True):
            if insn.mnemonic != src.split()[0].lower():
                raise AssemblyError(
                    f"encoding of {src!r} decodes as {insn.mnemonic} {insn.op_str}: {code.hex()}"
                )
            if insn.bytes[0] == 0x66 and "word" not in src and "ax" not in src.split()[-1]:
                # An operand-size prefix the source did not ask for changes the semantics.
                raise AssemblyError(f"encoding of {src!r} has a stray 0x66 prefix")
        return tuple(i.mnemonic for i in decoded)

    def template(self, name: str, text: str) -> Template:
        """A checked template; `text` names its 32-bit operands {0}, {1}, {2}."""
        cached = self._templates.get(name)
        if cached is not None:
            return cached
        marked = text.format(*(hex(m) for m in _MARKERS))
        code = self.assemble(marked)
        fields: list[int] = []
        relative: list[bool] = []
        for i in range(text.count("{")):
            off = code.find(struct.pack("<I", _MARKERS[i]))
            rel = False
            if off < 0:
                # A branch stores its target as a displacement from the next instruction.
                for cand in range(len(code) - 3):
                    (disp,) = struct.unpack_from("<i", code, cand)
                    if cand + 4 + disp == _MARKERS[i]:
                        off, rel = cand, True
                        break
            if off < 0:
                raise AssemblyError(f"template {name}: operand {i} is not a 32-bit field")
            fields.append(off)
            relative.append(rel)
        mnemonics = tuple(i.mnemonic for i in self._cs.disasm(code, 0))
        tpl = Template(name, code, tuple(fields), tuple(relative), mnemonics)
        self._templates[name] = tpl
        return tpl
