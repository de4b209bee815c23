"""Semantics of sensitive instructions, grouped by class; each returns VcpuExit values."""
