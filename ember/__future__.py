"""torch.__future__: switches for behaviour torch plans to make the default (how nn.Module converts and loads
its parameters).  Module._apply and Module.load_state_dict read them."""
_overwrite_module_params_on_conversion = False
_swap_module_params_on_conversion = False


def set_overwrite_module_params_on_conversion(value):
    """Whether Module.to() / .float() / .cuda() / .to_empty() assign new Parameters to the module instead of
    changing the existing ones in place (the optimizer's references then go stale)."""
    global _overwrite_module_params_on_conversion
    _overwrite_module_params_on_conversion = value


def get_overwrite_module_params_on_conversion():
    """See set_overwrite_module_params_on_conversion (default False)."""
    return _overwrite_module_params_on_conversion


def set_swap_module_params_on_conversion(value):
    """Whether module conversions and load_state_dict swap each parameter's contents with
    torch.utils.swap_tensors (the Parameter object stays, with its new dtype, device or subclass) instead of
    setting .data or copying in place; takes precedence over the overwrite switch."""
    global _swap_module_params_on_conversion
    _swap_module_params_on_conversion = value


def get_swap_module_params_on_conversion():
    """See set_swap_module_params_on_conversion (default False)."""
    return _swap_module_params_on_conversion
