"""ember.utils."""


def __getattr__(name):
    # submodules are imported on first use, as torch.utils.data is reached
    if name in ("data", "hooks", "checkpoint", "tensorboard", "dlpack", "model_zoo", "benchmark"):
        import importlib
        return importlib.import_module(__name__ + "." + name)
    raise AttributeError(f"module 'torch.utils' has no attribute '{name}': ember does not implement "
                         f"torch.utils.{name} yet")
