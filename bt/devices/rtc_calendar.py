"""The RTC's calendar registers: BCD/binary and 12/24 h encoding, epoch conversion, alarm match."""

from __future__ import annotations

import time

from bt.devices.cmos_layout import (
    B_24H,
    B_DM,
    CENTURY,
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    DONT_CARE,
    HOURS,
    HOURS_ALARM,
    MINUTES,
    MINUTES_ALARM,
    MONTH,
    REG_B,
    SECONDS,
    SECONDS_ALARM,
    YEAR,
)

NS_PER_SEC = 1_000_000_000
SECONDS_PER_DAY = 86400


def to_reg(data: bytearray, value: int) -> int:
    """`value` in the register format register B selects (binary with DM, else BCD)."""
    return value if data[REG_B] & B_DM else ((value // 10) << 4) | (value % 10)


def from_reg(data: bytearray, value: int) -> int:
    """The number a register byte holds in the format register B selects."""
    if data[REG_B] & B_DM:
        return value
    return (value >> 4) * 10 + (value & 0x0F)


def hour24(data: bytearray, reg: int) -> int:
    """The hour 0-23 an hour byte holds (PM is bit 7 in 12 h mode)."""
    hour = from_reg(data, reg & 0x7F)
    if not data[REG_B] & B_24H:
        hour %= 12
        if reg & 0x80:
            hour += 12
    return hour


def set_registers(data: bytearray, epoch: int) -> None:
    """Store `epoch` (UTC seconds) into the time registers (QEMU's rtc_set_cmos)."""
    tm = time.gmtime(epoch)
    d = data
    d[SECONDS] = to_reg(d, tm.tm_sec)
    d[MINUTES] = to_reg(d, tm.tm_min)
    if d[REG_B] & B_24H:
        d[HOURS] = to_reg(d, tm.tm_hour)
    else:
        hour12 = tm.tm_hour % 12 or 12
        d[HOURS] = to_reg(d, hour12) | (0x80 if tm.tm_hour >= 12 else 0)
    d[DAY_OF_WEEK] = to_reg(d, (tm.tm_wday + 1) % 7 + 1)  # Sunday is 1
    d[DAY_OF_MONTH] = to_reg(d, tm.tm_mday)
    d[MONTH] = to_reg(d, tm.tm_mon)
    d[YEAR] = to_reg(d, tm.tm_year % 100)
    d[CENTURY] = to_reg(d, tm.tm_year // 100)


def registers_epoch(data: bytearray) -> int:
    """The time the registers hold, as UTC seconds (QEMU's rtc_get_time + mktimegm)."""
    d = data
    year = from_reg(d, d[YEAR]) + from_reg(d, d[CENTURY]) * 100
    month = from_reg(d, d[MONTH])
    day = from_reg(d, d[DAY_OF_MONTH])
    seconds = hour24(d, d[HOURS]) * 3600 + from_reg(d, d[MINUTES]) * 60 + from_reg(d, d[SECONDS])
    # QEMU's mktimegm: a closed formula, so nonsense fields give a value, never an error.
    if month < 3:
        month += 12
        year -= 1
    days = day + (153 * month - 457) // 5 + 365 * year + year // 4 - year // 100
    days += year // 400 - 719469
    return days * SECONDS_PER_DAY + seconds


def alarm_matches_in(data: bytearray, start_ns: int, end_ns: int) -> bool:
    """Whether a second boundary in (start_ns, end_ns] of guest time matches the alarm."""
    first = start_ns // NS_PER_SEC + 1
    last = end_ns // NS_PER_SEC
    if last < first:
        return False
    if last - first >= SECONDS_PER_DAY:
        return True
    d = data
    wanted = []
    for reg, limit in ((HOURS_ALARM, 24), (MINUTES_ALARM, 60), (SECONDS_ALARM, 60)):
        value = d[reg]
        if value & DONT_CARE == DONT_CARE:
            wanted.append(range(limit))
        else:
            unit = hour24(d, value) if reg == HOURS_ALARM else from_reg(d, value)
            wanted.append(range(unit, unit + 1))
    hours, minutes, seconds = wanted
    t = first
    while t <= last:
        sod = t % SECONDS_PER_DAY
        h, m, s = sod // 3600, (sod // 60) % 60, sod % 60
        if h in hours and m in minutes and s in seconds:
            return True
        # Jump to the next second, minute or hour that could match.
        if h not in hours:
            t += 3600 - sod % 3600
        elif m not in minutes:
            t += 60 - sod % 60
        else:
            t += 1
    return False
