#!/bin/sh
# System packages the test suite uses beyond pip: Debian's Chromium (the HTML report test).
# Installs it when missing and this user may run apt-get; otherwise says what will be skipped.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "deps: chromium missing and apt-get needs root: the HTML report test will skip" >&2
        exit 0
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "deps: chromium missing and no apt-get: the HTML report test will skip" >&2
