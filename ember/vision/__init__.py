"""ember.vision: torchvision's API (datasets, transforms, utils)."""
