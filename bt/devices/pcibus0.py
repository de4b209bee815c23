"""Bus 0 of QEMU 7.2's pc machine: the i440FX, the PIIX3's functions and the standard VGA."""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.i440fx import i440fx, watch_pam
from bt.devices.pcihost import PciHost
from bt.devices.pcivga import std_vga
from bt.devices.piix3 import ResetControl, piix3_isa
from bt.devices.piix3_ide import piix3_ide
from bt.devices.piix3_pm import piix4_pm


def pc_bus0(
    mem_size: int, on_reset: Callable[[], None], on_pam: Callable[[int], None] | None = None
) -> PciHost:
    """The host bridge's configuration ports with bus 0 as `qemu-system-i386 -M pc -nic none`
    shows it after SeaBIOS (no NIC: this machine has none): 00:00.0 host bridge, 00:01.0 ISA
    bridge, 00:01.1 IDE, 00:01.3 PM (ACPI), 00:02.0 VGA. `on_reset` is port 0xCF9's reset;
    `on_pam` hears which 16 KiB segments of 0xC0000-0xFFFFF the PAM registers make read-only."""
    host = PciHost(ResetControl(on_reset))
    bridge = i440fx(mem_size)
    if on_pam is not None:
        watch_pam(bridge, on_pam)
    host.attach(0, 0, bridge)
    host.attach(1, 0, piix3_isa())
    host.attach(1, 1, piix3_ide())
    host.attach(1, 3, piix4_pm())
    host.attach(2, 0, std_vga())
    return host
