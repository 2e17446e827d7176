"""Placeholder: filled in by its own work item."""
__all__ = []
