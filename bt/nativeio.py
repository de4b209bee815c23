"""NativePortIO: the interrupt hook in host code that answers fast port I/O without Python.

Every callout is an `int` that Unicorn hands to its UC_HOOK_INTR hooks. Entering Python for
one costs far more than the guest's work around it (DESIGN.md fact 6; a Python hook alone is
0.4-0.8 us, a whole port callout about 20 us), so the one hook the engine registers is a
few hundred bytes of x86-64 machine code (in an mmap'd page made read+execute, never W+X,
as bt/backstop.py does). For the vectors of translator/portio.py it reads EDX/EAX through
uc_reg_read and, from state the monitor publishes in a shared record:

- `out dx, al` to COM1's THR (0x3F8) or to 0xE9, and `out 0xe9, al`: appends AL to a buffer
  (one port's bytes at a time), while that port's `plain` flag is set;
- `in al, dx` from COM1's LSR (0x3FD): writes the published LSR value into AL, while COM1 is
  plain;

and counts each access it answered. Everything else (another vector, another port, a port
not plain, a full buffer, an access count that reached its budget) is passed, with the same
arguments, to the Python hook, which handles it as it handles every callout. The monitor
takes the buffer and the count (`take`) whenever Python is entered and publishes the state
and the budget again before translated code runs on (bt/portfast.py decides what they are).

Host code exists for x86-64 with the System V calling convention; elsewhere, or where the host
refuses executable memory, the Python hook is registered directly and the fast vectors are
ordinary callouts.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from unicorn import UC_HOOK_INTR, Uc
from unicorn import x86_const as R
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib  # the binding's handle (unicorn 2.1)

from bt.backstop import executable, sysv_x86_64_host

# The vectors the code answers: out dx, al; in al, dx; out 0xe9, al (the translator emits
# them: translator/portio.py, which the engine's layer does not import; a test compares).
FAST_VECTORS = (0x83, 0x84, 0x85)
BUFFER_SIZE = 1 << 16
UNLIMITED = (1 << 64) - 1
# Who owns the bytes in the buffer (the record's `owner`).
OWNER_COM1 = 1
OWNER_DEBUGCON = 2

PythonHook = Callable[[Uc, int, object], None]
_INTR_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)


class _Shared(ctypes.Structure):
    """The record the host code reads and updates; offsets are fixed by the code below."""

    _fields_ = [
        ("python", ctypes.c_void_p),  # 0x00: the Python hook (same signature)
        ("reg_read", ctypes.c_void_p),  # 0x08: uc_reg_read
        ("reg_write", ctypes.c_void_p),  # 0x10: uc_reg_write
        ("length", ctypes.c_uint32),  # 0x18: bytes in `buf`
        ("capacity", ctypes.c_uint32),  # 0x1C
        ("com1", ctypes.c_uint8),  # 0x20: COM1 is plain: buffer THR bytes, answer LSR reads
        ("lsr", ctypes.c_uint8),  # 0x21: the LSR value to answer
        ("debugcon", ctypes.c_uint8),  # 0x22: buffer byte writes to 0xE9
        ("owner", ctypes.c_uint8),  # 0x23: OWNER_COM1 or OWNER_DEBUGCON when length > 0
        ("_pad", ctypes.c_uint32),
        ("count", ctypes.c_uint64),  # 0x28: accesses answered since the last take()
        ("budget", ctypes.c_uint64),  # 0x30: accesses it may answer before Python sees one
        ("buf", ctypes.c_uint8 * BUFFER_SIZE),  # 0x38
    ]


# void hook(uc_engine *uc, uint32_t intno, struct _Shared *s): RDI, ESI, RDX. Assembled with
# Keystone (KS_MODE_64) into _HOOK_CODE; tests/test_nativeio.py checks that they agree.
_HOOK_ASM = """
    lea eax, [rsi - 0x83]
    cmp eax, 2
    ja l_python
    mov rax, qword ptr [rdx + 0x28]
    cmp rax, qword ptr [rdx + 0x30]
    jae l_python
    push rbx
    push r12
    push r13
    sub rsp, 16
    mov rbx, rdi
    mov r12, rdx
    mov r13d, esi
    cmp esi, 0x85
    je l_e9
    mov rdi, rbx
    mov esi, 24
    mov rdx, rsp
    call qword ptr [r12 + 8]
    movzx eax, word ptr [rsp]
    cmp r13d, 0x84
    je l_lsr
    cmp eax, 0x3f8
    je l_thr
    cmp eax, 0xe9
    jne l_slow
l_e9:
    cmp byte ptr [r12 + 0x22], 0
    je l_slow
    mov ecx, 2
    jmp l_put
l_thr:
    cmp byte ptr [r12 + 0x20], 0
    je l_slow
    mov ecx, 1
l_put:
    mov eax, dword ptr [r12 + 0x18]
    cmp eax, dword ptr [r12 + 0x1c]
    jae l_slow
    test eax, eax
    jz l_own
    cmp byte ptr [r12 + 0x23], cl
    jne l_slow
l_own:
    mov byte ptr [r12 + 0x23], cl
    mov rdi, rbx
    mov esi, 19
    mov rdx, rsp
    call qword ptr [r12 + 8]
    mov eax, dword ptr [r12 + 0x18]
    movzx ecx, byte ptr [rsp]
    mov byte ptr [r12 + rax + 0x38], cl
    inc eax
    mov dword ptr [r12 + 0x18], eax
    jmp l_done
l_lsr:
    cmp eax, 0x3fd
    jne l_slow
    cmp byte ptr [r12 + 0x20], 0
    je l_slow
    mov rdi, rbx
    mov esi, 19
    mov rdx, rsp
    call qword ptr [r12 + 8]
    movzx eax, byte ptr [r12 + 0x21]
    mov byte ptr [rsp], al
    mov rdi, rbx
    mov esi, 19
    mov rdx, rsp
    call qword ptr [r12 + 0x10]
l_done:
    inc qword ptr [r12 + 0x28]
    add rsp, 16
    pop r13
    pop r12
    pop rbx
    ret
l_slow:
    mov rdi, rbx
    mov esi, r13d
    mov rdx, r12
    add rsp, 16
    pop r13
    pop r12
    pop rbx
l_python:
    jmp qword ptr [rdx]
"""
# The register ids the code passes to uc_reg_read/uc_reg_write (`mov esi, 24` and 19).
REG_IDS = (R.UC_X86_REG_EDX, R.UC_X86_REG_EAX)
_HOOK_CODE = bytes.fromhex(
    "8d867dffffff83f8020f8717010000488b4228483b42300f830901000053415441554883ec104889fb"
    "4989d44189f581fe85000000742f4889dfbe180000004889e241ff5424080fb704244181fd840000"
    "0074793df8030000741e3de90000000f85ae00000041807c2422000f84a2000000b902000000eb11"
    "41807c2420000f848f000000b901000000418b442418413b44241c737e85c0740741384c24237573"
    "41884c24234889dfbe130000004889e241ff542408418b4424180fb60c2441884c0438ffc0418944"
    "2418eb383dfd030000754041807c24200074384889dfbe130000004889e241ff542408410fb64424"
    "218804244889dfbe130000004889e241ff54241049ff4424284883c410415d415c5bc34889df4489"
    "ee4c89e24883c410415d415c5bff22"
)


class NativePortIO:
    """The engine's one interrupt hook: host code for the fast port forms, `python` for the
    rest (or `python` alone where host code is impossible)."""

    def __init__(self, uc: Uc, python: PythonHook, native: bool = True) -> None:
        self._shared = _Shared()
        self._shared.capacity = BUFFER_SIZE
        self._shared.budget = 0  # nothing is answered natively until the monitor says so
        self._base = ctypes.addressof(self._shared) + _Shared.buf.offset
        self._page: object = None  # keeps the code mapped
        self.answered = 0  # accesses answered natively, in all
        # While held (an I/O breakpoint is enabled: bt/watchpoints.py) no port is plain, so
        # every fast form reaches Python, which checks the breakpoints.
        self.held = False
        self.native = False
        placed = None
        if native and sysv_x86_64_host():
            try:
                placed = executable(_HOOK_CODE)
            except (OSError, ValueError, AttributeError):  # no anonymous mmap or mprotect
                placed = None
        if placed is not None:
            # The binding's own hook objects are bypassed, so the guard that relays
            # exceptions is the engine's (`python` catches everything itself).
            self._thunk = _INTR_CB(lambda _uch, vector, _ud: python(uc, vector, None))
            sh = self._shared
            sh.python = ctypes.cast(self._thunk, ctypes.c_void_p).value
            sh.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
            sh.reg_write = ctypes.cast(uclib.uc_reg_write, ctypes.c_void_p).value
            handle = uc_hook_h()
            err = uclib.uc_hook_add(
                uc._uch,
                ctypes.byref(handle),
                UC_HOOK_INTR,
                ctypes.c_void_p(placed[1]),
                ctypes.c_void_p(ctypes.addressof(sh)),
                ctypes.c_uint64(1),
                ctypes.c_uint64(0),
            )
            if err == 0:
                self._page = placed[0]
                self.native = True
        if not self.native:
            uc.hook_add(UC_HOOK_INTR, python)
        self.mode = "native interrupt hook" if self.native else "Python interrupt hook"

    # -- what the host code answers from (published by the monitor) ---
    def publish(self, com1_lsr: int | None, debugcon: bool) -> None:
        """COM1 is plain with this LSR value (None: it is not); 0xE9 byte writes may be
        buffered."""
        sh = self._shared
        plain = self.native and not self.held
        sh.com1 = 0 if com1_lsr is None or not plain else 1
        sh.lsr = com1_lsr or 0
        sh.debugcon = 1 if debugcon and plain else 0

    def hold(self, held: bool) -> None:
        """Send every fast form to Python from now on (True), or let the next `publish` say
        again which ports are plain (False)."""
        self.held = held
        if held:
            self.publish(None, False)

    def set_budget(self, accesses: int) -> None:
        """How many more accesses the host code may answer before one must reach Python."""
        self._shared.budget = min(max(accesses, 0), UNLIMITED) if self.native else 0

    # -- what it did ---
    def pending(self) -> bool:
        """Whether it answered accesses since the last take()."""
        return bool(self._shared.count)

    def take(self) -> tuple[int, bytes, int]:
        """(owner, bytes buffered, accesses answered) since the last take(); both reset."""
        sh = self._shared
        count = sh.count
        data = ctypes.string_at(self._base, sh.length) if sh.length else b""
        owner = sh.owner
        sh.length = 0
        sh.count = 0
        # The budget was for accesses counted from the last publication: what is left of it.
        sh.budget = sh.budget - count if sh.budget != UNLIMITED else UNLIMITED
        self.answered += count
        return owner, data, count
