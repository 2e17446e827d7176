"""ember.nn: modules, parameters, functional and init (torch.nn's API)."""
