"""The monitor's address-space layout: where the translation cache and its own page live."""

# Guest-physical RAM is Unicorn-physical [0, ram), at most MAX_RAM; [ram, 4 GiB) is unassigned.
MAX_RAM = 0xC0000000
# A `--bios` ROM ends at 4 GiB (bt/resetboot.py), above the PDPT page (ROOTS_PHYS) and the
# unassigned page after it that takes the guest's dropped ROM writes (bt/guestview.py).
MAX_ROM = 16 << 20
# The translation cache and the monitor's page: linear addresses translated code runs at (the
# fill hook serves fetches only there), backed by Unicorn-physical memory above 4 GiB, which
# no guest address can name.
TC_LINEAR = 0xE0000000
TC_SIZE = 64 << 20
MON_LINEAR = 0xE4000000
MON_SIZE = 0x1000
TC_PHYS = 1 << 32
MON_PHYS = TC_PHYS + TC_SIZE
# Eight zero bytes translated code reads (the BOUND pair of self-checking blocks,
# translator/selfcheck.py): a page of zeros behind a linear page of the unassigned range, which
# reads 0 for the guest too (with paging off; self-checking blocks exist only then).
ZERO_LINEAR = 0xDFFFF000
ZERO_PHYS = MON_PHYS + MON_SIZE
# Guest paging on Unicorn's own walker (bt/shadowpaging.py): the shadow page tables, in
# Unicorn-physical memory above 4 GiB, and the page of their PDPTs, which PAE's 32-bit CR3
# needs below 4 GiB: above any guest RAM, where guest-physical addresses are unassigned (the
# guest's view of this page is redirected to the next one).
SHADOW_PHYS = 1 << 33
ROOTS_PHYS = MAX_RAM
