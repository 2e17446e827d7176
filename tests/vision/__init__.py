"""Tests of ember.vision (torchvision's API)."""
