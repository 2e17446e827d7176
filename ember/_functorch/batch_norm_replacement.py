"""torch.func.replace_all_batch_norm_modules_: BatchNorm layers that keep no running statistics, so that
vmap over a model (ember's loops over the batch) does not update shared buffers once per sample."""


def _without_running_stats(module):
    from ..nn.modules.batchnorm import _BatchNorm
    if isinstance(module, _BatchNorm) and module.track_running_stats:
        module.running_mean = None
        module.running_var = None
        module.num_batches_tracked = None
        module.track_running_stats = False


def replace_all_batch_norm_modules_(root):
    """Make every BatchNorm module in root (root included) use batch statistics only; returns root."""
    _without_running_stats(root)
    for module in root.modules():
        _without_running_stats(module)
    return root
