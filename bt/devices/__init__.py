"""Devices on the port-I/O and MMIO buses, one per file."""
