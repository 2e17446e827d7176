"""torch.func: composable function transforms (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, linearize,
functional_call, functionalize).

vmap is a loop over the batch, not a vectorizing transform, and jvp / jacfwd / linearize run in reverse
mode: see ember/_functorch for what that means for cost; the results are torch's.  functionalize runs
the function eagerly (ember records no program to rewrite).
"""
from .._functorch.batch_norm_replacement import replace_all_batch_norm_modules_
from .._functorch.eager_transforms import (debug_unwrap, functionalize, grad, grad_and_value, hessian, jacfwd,
                                           jacrev, jvp, linearize, vjp)
from .._functorch.functional_call import functional_call, stack_module_state
from .._functorch.vmap import vmap

__all__ = ["grad", "grad_and_value", "vmap", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "functional_call",
           "stack_module_state", "linearize", "functionalize", "replace_all_batch_norm_modules_", "debug_unwrap"]
