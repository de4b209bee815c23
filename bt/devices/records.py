"""The PC devices' state records: what each device's `save()` returns and `restore()` takes.

Plain data only (bt/staterecord.py): registers, latches, queues as bytes, times as guest
nanoseconds on the machine's clock (restored with it). Wiring (IRQ lines, sinks, the clock
object, guest memory) and configuration fixed at construction (a chip being the master, the
ELCR mask) are not state: the machine builds them and then restores the records into them.
Bump a record's `version` default when its fields change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PicState:
    """One 8259A: its registers, the initialization sequence and the INT pin."""

    elcr: int
    output: int
    irr: int
    last_irr: int  # line levels seen, for edge detection
    imr: int
    isr: int
    priority_add: int
    irq_base: int
    read_isr: bool
    poll: bool
    special_mask: bool
    init_state: int
    auto_eoi: bool
    rotate_on_auto_eoi: bool
    special_fully_nested: bool
    init4: bool
    single: bool
    version: int = 1


@dataclass(frozen=True, slots=True)
class PicPairState:
    """The cascaded pair (each chip's record holds its ELCR byte)."""

    master: PicState
    slave: PicState
    version: int = 1


@dataclass(frozen=True, slots=True)
class PitChannelState:
    """One 8254 counter: programming, byte sequencing, latches and the time of its load."""

    count: int
    load_ns: int
    mode: int
    bcd: int
    rw_mode: int
    read_state: int
    write_state: int
    write_latch: int
    latched_count: int
    count_latched: int
    status: int
    status_latched: bool
    gate: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class SpeakerState:
    """Port 0x61: the speaker data enable and the refresh toggle (the gate is the PIT's)."""

    data_on: int
    refresh: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class PitState:
    """The three counters, IRQ 0's level and next transition, and port 0x61."""

    channels: tuple[PitChannelState, ...]
    irq_level: int
    next_ns: int | None
    speaker: SpeakerState
    version: int = 1


@dataclass(frozen=True, slots=True)
class CmosState:
    """The 128 bytes, the index port, and the RTC's time base and pending events."""

    data: bytes
    index: int
    nmi_masked: bool
    base_sec: int
    base_ns: int
    offset_ns: int
    period: int
    next_periodic_ns: int | None
    last_update_ns: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class KeyboardState:
    """The PS/2 keyboard behind the i8042: queued replies and scan codes, its settings."""

    replies: bytes
    scancodes: bytes
    write_cmd: int  # the command waiting for its argument, -1: none
    scan_enabled: bool
    scancode_set: int
    leds: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class AuxState:
    """The aux (mouse) stub: queued replies and the settings it reports."""

    replies: bytes
    write_cmd: int  # -1: none
    resolution: int
    sample_rate: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class I8042State:
    """The controller: command byte, status, output port, output buffer and its queue."""

    mode: int
    status: int
    outport: int
    write_cmd: int  # controller command waiting for its data byte, 0: none
    ctrl: tuple[tuple[int, bool], ...]  # controller-made bytes (byte, is_aux)
    ob: int
    ob_full: bool
    ob_aux: bool
    kbd_level: int
    aux_level: int
    keyboard: KeyboardState
    aux: AuxState
    version: int = 1


@dataclass(frozen=True, slots=True)
class UartState:
    """The 16550A: registers, receiver contents and host bytes not yet taken in."""

    host_input: bytes
    fifo: bytes
    rbr: int
    rbr_full: bool
    overrun: bool
    thre_pending: bool
    ier: int
    lcr: int
    mcr: int
    scr: int
    fcr: int
    divisor: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class VgaState:
    """The VGA registers (the screen itself is guest RAM)."""

    misc: int
    crtc: bytes
    crtc_index: int
    seq: bytes
    seq_index: int
    gr: bytes
    gr_index: int
    attr: bytes
    attr_index: int
    attr_data_next: bool
    st01: int
    dac: bytes
    dac_state: int
    dac_read_index: int
    dac_write_index: int
    dac_sub: int
    dac_latch: bytes
    version: int = 1


@dataclass(frozen=True, slots=True)
class DebugConState:
    """The debug console keeps nothing between accesses: the record holds only its version."""

    version: int = 1


@dataclass(frozen=True, slots=True)
class ExitPortState:
    """isa-debug-exit: the status of the last write, None before any."""

    requested_status: int | None
    version: int = 1


@dataclass(frozen=True, slots=True)
class PostCodeState:
    """Port 0x80's POST codes: how many were written and the latest ones, oldest first."""

    count: int
    recent: bytes
    version: int = 1


@dataclass(frozen=True, slots=True)
class PciState:
    """Configuration mechanism 1: CONFIG_ADDRESS, the PIIX3's reset control register, and
    each function's 256 configuration bytes by devfn on bus 0, in devfn order."""

    address: int
    reset_control: int
    spaces: tuple[tuple[int, bytes], ...]
    version: int = 1


@dataclass(frozen=True, slots=True)
class FwCfgState:
    """fw_cfg: the selected key (None: nothing answers it), the read offset into its entry,
    and the DMA address register (its entries are fixed by the machine's configuration)."""

    key: int | None
    offset: int
    dma_address: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class PmState:
    """The PIIX4 PM's I/O: PM1_STS, PM1_EN, PM1_CNT, the PM-timer tick at which TMR_STS next
    sets, APM_CNT and APM_STS."""

    sts: int
    en: int
    cnt: int
    overflow_ticks: int
    apm_cnt: int
    apm_sts: int
    version: int = 1
