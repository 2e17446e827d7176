"""ember.save / ember.load in PyTorch's checkpoint format (placeholder)."""
__all__ = []
