"""The machinery behind torch.func (torch keeps it in torch/_functorch): transforms built on ember's autograd."""
