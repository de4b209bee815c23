#!/bin/sh
# System packages the test suite uses beyond pip: Debian's Chromium (the HTML report test),
# the bootloaders the tests build images from (grub-pc-bin, grub-common, xorriso, mtools,
# dosfstools, syslinux: tests/test_grub.py) and memtest86+ (tests/test_memtest.py). Installs
# what is missing when this user may run apt-get; otherwise says which tests will skip.
# (The Linux boot, `python -m pytest -m linux_boot`, also needs the i386 package lists for
# tools/linux_kernel.py's apt-get download: dpkg --add-architecture i386 && apt-get update.)
set -eu
PACKAGES=""
command -v chromium >/dev/null 2>&1 || PACKAGES="$PACKAGES chromium"
[ -f /usr/lib/grub/i386-pc/boot.img ] || PACKAGES="$PACKAGES grub-pc-bin"
command -v grub-mkimage >/dev/null 2>&1 || PACKAGES="$PACKAGES grub-common"
command -v xorriso >/dev/null 2>&1 || PACKAGES="$PACKAGES xorriso"
command -v mcopy >/dev/null 2>&1 || PACKAGES="$PACKAGES mtools"
command -v mkfs.fat >/dev/null 2>&1 || PACKAGES="$PACKAGES dosfstools"
command -v syslinux >/dev/null 2>&1 || PACKAGES="$PACKAGES syslinux"
[ -d /usr/lib/syslinux/modules/bios ] || PACKAGES="$PACKAGES syslinux-common"
[ -f /boot/memtest86+ia32.bin ] || PACKAGES="$PACKAGES memtest86+"
if [ -z "$PACKAGES" ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "deps: missing$PACKAGES and apt-get needs root: their tests will skip" >&2
        exit 0
    fi
    $SUDO apt-get update -qq
    # One package that cannot be had (a mirror without it) must not cost the others.
    for p in $PACKAGES; do
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p" >/dev/null ||
            echo "deps: could not install $p: its tests will skip" >&2
    done
    exit 0
fi
echo "deps: missing$PACKAGES and no apt-get: their tests will skip" >&2
