"""The host programs the bootloader image builders run (mkfs.fat, mtools, grub-mkimage, ...)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class ToolError(Exception):
    """A file or program an image needs is missing, or a program failed."""


def missing(files: dict[Path, str], tools: tuple[str, ...]) -> str | None:
    """Why an image needing `files` (each with the package that ships it) and the programs
    `tools` cannot be built here, or None."""
    for path, package in files.items():
        if not path.exists():
            return f"{package} is not installed ({path} is absent)"
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    return None


def run(cmd: list[str]) -> None:
    """Run `cmd`; its failure is a ToolError naming it and its error output."""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise ToolError(f"{cmd[0]} failed: {done.stderr.strip() or done.returncode}")
