"""torch.fx.passes.utils: helpers of the passes (the subgraph matcher)."""
