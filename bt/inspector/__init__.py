"""The translation-cache inspector: query, browse and export a saved cache file (bt inspect)."""

from bt.inspector.model import CacheFile, CacheFileError, open_cache

__all__ = ["CacheFile", "CacheFileError", "open_cache"]
