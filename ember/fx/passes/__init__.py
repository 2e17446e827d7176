"""torch.fx.passes: graph passes (shape propagation, subgraph matching)."""
