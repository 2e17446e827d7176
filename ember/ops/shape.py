"""Reductions (placeholder; filled in by the reductions work)."""
__all__ = []
