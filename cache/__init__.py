"""The translation cache: blocks, code buffer, chaining, invalidation, statistics."""
