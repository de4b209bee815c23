"""FloppyController: what SeaBIOS and QEMU's floppy controller keep between INT 13h calls.

SeaBIOS 1.16 hw/floppy.c floppy_prep() senses a drive's medium (floppy_media_sense: Read ID at
candidate data rates) the first time the drive is used after a reset, and only then sets the
controller's data rate; it does not set it again when it changes drives. QEMU's controller
(hw/block/fdc.c, check_media_rate) fails a transfer when its data rate is not the medium's.
So after a drive whose medium has another rate was sensed, a transfer on the first drive
fails (DISK_RET_ECONTROLLER) until a reset (AH=00h) makes both drives be sensed again: the
"reset and retry" DOS does after an error. Measured under QEMU 7.2 with SeaBIOS 1.16.2
(tools/int13_reference.py, configuration "floppies": a 1.44M and a 360K diskette).
"""

from __future__ import annotations

from bt.bios.biosdrive import BiosDrive
from bt.bios.diskstatus import EMEDIA, SUCCESS
from bt.devices.diskimage import DiskImage
from bt.devices.floppyformats import BIOS_FLOPPY_TYPES, sensed_rate


class FloppyController:
    """The data rate last programmed and the drives whose medium is established."""

    def __init__(self) -> None:
        self.rate: int | None = None
        self.established: set[int] = set()

    def reset(self) -> None:
        """floppy_reset: every drive's media state is cleared."""
        self.established.clear()

    def prepare(self, drive: BiosDrive) -> int:
        """floppy_prep: sense the drive's medium unless established; the status. An empty
        drive senses at its type's own rate (SeaBIOS's first Read ID; not measured which rate
        QEMU's controller then keeps)."""
        if drive.unit in self.established:
            return SUCCESS
        if drive.image is None:
            rate: int | None = BIOS_FLOPPY_TYPES[drive.cmos_type].rate
        else:
            assert drive.image.floppy is not None
            rate = sensed_rate(drive.cmos_type, drive.image.floppy.rate)
        if rate is None:
            return EMEDIA
        self.rate = rate
        self.established.add(drive.unit)
        return SUCCESS

    def rate_matches(self, image: DiskImage) -> bool:
        """Whether the controller reads `image`'s medium at its rate."""
        assert image.floppy is not None
        return self.rate == image.floppy.rate
