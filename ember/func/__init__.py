"""torch.func: composable function transforms (grad, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call).

vmap is a loop over the batch, not a vectorizing transform, and jvp / jacfwd run in reverse mode:
see ember/_functorch for what that means for cost; the results are torch's.
"""
from .._functorch.eager_transforms import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp
from .._functorch.functional_call import functional_call, stack_module_state
from .._functorch.vmap import vmap

__all__ = ["grad", "grad_and_value", "vmap", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "functional_call",
           "stack_module_state"]
