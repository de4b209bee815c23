"""INT 18h, INT 19h and the reset entry: the services that end the current boot.

SeaBIOS's INT 18h tries the next boot device and, with none left, prints "No bootable
device." and reboots after 60 seconds; INT 19h boots again from the first device; the reset
vector runs POST. Here the monitor decides: each returns a Reboot result (bt/bios/api.py) that
the run loop maps to a run end (NO_BOOTABLE_DEVICE) or a new boot (BOOT: load the boot sector
and enter it with bt/bios/post.py's BootState; RESET: POST first).
"""

from __future__ import annotations

from bt.bios.api import BiosCall, BootAction, Reboot, ServiceResult

RESET_VECTOR = -1  # BiosCall.vector at the reset entry: no interrupt vector leads there
NO_BOOTABLE_DEVICE_MESSAGE = "No bootable device."  # SeaBIOS's words (src/boot.c boot_fail)


class BootFailure:
    """INT 18h: nothing (more) to boot."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        return Reboot(0x18, BootAction.NO_BOOTABLE_DEVICE)


class Bootstrap:
    """INT 19h: load and enter the boot sector again."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        return Reboot(0x19, BootAction.BOOT)


class Reset:
    """The POST entry the reset vector jumps to (F000:E05B): a full reset and boot."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        return Reboot(call.vector, BootAction.RESET)
