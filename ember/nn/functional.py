"""ember.nn.functional (torch.nn.functional's API)."""
