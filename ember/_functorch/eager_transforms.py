"""torch.func's autodiff transforms (grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian) on ember's
ordinary autograd.

torch runs each transform at its own "level" and unwraps the result afterwards.  Here a transform
makes the differentiated arguments fresh leaves (or, when an argument already requires grad, a view
that keeps its graph), runs func under enable_grad, and calls autograd.grad.  The gradient keeps a
graph (create_graph=True) only when func's output reaches a tensor from outside the transform that
requires grad: an enclosing transform's input (so grad(grad(f)) works), a closed-over parameter, or
an argument that requires grad.  Otherwise everything returned is detached, as torch's unwrapping
leaves it, and only first-order backward formulas are needed.

jvp and jacfwd are computed in reverse mode: jvp by the double-backward trick (differentiate the
vector-Jacobian product u -> J^T u with respect to u), jacfwd as jacrev.  The values are the same
as torch's forward mode; the cost is that of reverse mode, and the ops involved must support
double backward.
"""
import functools

from ..autograd import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad, is_grad_enabled
from ..autograd.graph import AccumulateGrad
from ..utils._pytree import tree_flatten, tree_map, tree_unflatten


__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize", "functionalize",
           "debug_unwrap"]


# ---- argnums ---------------------------------------------------------------------------------------
def _wrap_argnum(argnum, num_args):
    if not isinstance(argnum, int):
        raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
    if 0 <= argnum < num_args:
        return argnum
    if -num_args <= argnum < 0:
        return argnum + num_args
    raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")


def _validate_argnums(argnums, num_args):
    if isinstance(argnums, int):
        return _wrap_argnum(argnums, num_args)
    if isinstance(argnums, tuple):
        if len(argnums) == 0:
            raise RuntimeError("argnums must be non-empty")
        wrapped = tuple(_wrap_argnum(a, num_args) for a in argnums)
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        return wrapped
    raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")


def _replace_args(args, new, argnums):
    args = list(args)
    if isinstance(argnums, int):
        args[argnums] = new
    else:
        for a, n in zip(argnums, new):
            args[a] = n
    return tuple(args)


def _slice(args, argnums):
    return args[argnums] if isinstance(argnums, int) else tuple(args[a] for a in argnums)


# ---- levels ----------------------------------------------------------------------------------------
def _make_diff(x):
    from .._tensor import Tensor
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    # a view keeps an enclosing level's graph; a fresh leaf starts one
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_(True)


def _leaf_ids(tensors):
    # the fresh leaves this level made: the graph of its results may reach them without that
    # making the results differentiable from outside
    return {id(t) for t in tensors if t.grad_fn is None}


def _reaches_outside(tensors, inner):
    """Whether the graph behind tensors reaches a leaf that requires grad other than this level's."""
    from .._tensor import Tensor
    seen = set()
    stack = []
    for t in tensors:
        if not isinstance(t, Tensor) or not t.requires_grad:
            continue
        if t.grad_fn is None:
            if id(t) not in inner:
                return True
            continue
        stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            if id(node.variable) not in inner:
                return True
            continue
        for child, _ in node.next_functions:
            if child is not None and id(child) not in seen:
                stack.append(child)
    return False


def _unwrap(tree, inner, keep_graph):
    """Results as torch's unwrapping leaves them: detached unless they depend on an outer level."""
    from .._tensor import Tensor

    def one(x):
        if not isinstance(x, Tensor):
            return x
        if keep_graph and _reaches_outside([x], inner):
            return x
        return x.detach()
    return tree_map(one, tree)


def _grads(outputs, inputs, cotangents, create_graph, retain_graph=True):
    """d(outputs . cotangents)/d(inputs), zeros where an input is unused or nothing requires grad."""
    from .. import zeros_like
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    got = [None] * len(inputs)
    if pairs:
        got = _autograd_grad([o for o, _ in pairs], list(inputs), [c for _, c in pairs], retain_graph=retain_graph,
                             create_graph=create_graph, allow_unused=True)
    return [zeros_like(i) if g is None else g for g, i in zip(got, inputs)]


# ---- grad ------------------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient of func w.r.t. the argnums inputs, func's value)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .._tensor import Tensor
        outer_grad = is_grad_enabled()
        nums = _validate_argnums(argnums, len(args))
        with enable_grad():
            diff = tree_map(_make_diff, _slice(args, nums))
            flat_diff, diff_spec = tree_flatten(diff)
            inner = _leaf_ids(flat_diff)
            output = func(*_replace_args(args, diff, nums), **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                output, aux = output
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.dim() != 0:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                                   "APIs instead?")
            keep = outer_grad and _reaches_outside([output], inner)
            grads = _grads([output], flat_diff, [None], keep, retain_graph=keep)
        grads = _unwrap(tree_unflatten(grads, diff_spec), inner, keep)
        output = _unwrap(output, inner, keep)
        if has_aux:
            return grads, (output, _unwrap(aux, inner, keep))
        return grads, output
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of scalar func w.r.t. its argnums inputs (nestable)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


# ---- vjp -------------------------------------------------------------------------------------------
def _pprint(spec):
    if spec.is_leaf():
        return "*"
    kids = [_pprint(c) for c in spec.children_specs]
    if spec.type is dict or spec.type.__name__ == "OrderedDict":
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(spec.context, kids)) + "}"
    if spec.type is list:
        return "[" + ", ".join(kids) + "]"
    return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"


def _check_tensor_outputs(flat, api):
    from .._tensor import Tensor
    if not flat:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got output = [])")
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got unsupported type {type(o)}")


def _vjp(func, primals, argnums, has_aux, api="vjp(f, *primals)"):
    outer_grad = is_grad_enabled()
    with enable_grad():
        if argnums is None:
            diff = tree_map(_make_diff, primals)
            call_args = diff
        else:
            diff = tree_map(_make_diff, _slice(primals, argnums))
            call_args = _replace_args(primals, diff, argnums)
        flat_diff, diff_spec = tree_flatten(diff)
        inner = _leaf_ids(flat_diff)
        out = func(*call_args)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: (output, aux) "
                                   "if has_aux is True")
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        _check_tensor_outputs(flat_out, api)
        for o in flat_out:
            if not (o.is_floating_point() or o.is_complex()):
                raise RuntimeError("vjp(f, ...): All outputs of f must be floating-point or complex Tensors, got "
                                   f"Tensor with dtype {o.dtype}")
        keep = outer_grad and _reaches_outside(flat_out, inner)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {_pprint(cot_spec)}, primal output: "
                               f"{_pprint(out_spec)}")
        cg = (keep and is_grad_enabled()) if create_graph is None else create_graph
        with enable_grad():
            res = _grads(flat_out, flat_diff, flat_cot, cg, retain_graph=True if retain_graph is None else
                         retain_graph)
        return _unwrap(tree_unflatten(res, diff_spec), inner, cg)

    return _unwrap(out, inner, keep), vjp_fn, _unwrap(aux, inner, keep), (flat_out, out_spec, flat_diff, diff_spec)


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangents) gives the vector-Jacobian products w.r.t. primals."""
    out, vjp_fn, aux, _ = _vjp(func, primals, None, has_aux)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


# ---- jvp -------------------------------------------------------------------------------------------
def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J @ tangents): computed in reverse mode by the double-backward trick."""
    from .. import zeros_like
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_p, p_spec = tree_flatten(primals)
    flat_t, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python structure. For example, "
                           "if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{p_spec} and tangents with structure {t_spec}")
    from .._tensor import Tensor
    for name, flat in (("primals", flat_p), ("tangents", flat_t)):
        if not flat:
            raise RuntimeError(f"{api}: Expected {name} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{api}: Expected {name} to only contain Tensors, got {type(x)}")
    outer_grad = is_grad_enabled()
    with enable_grad():
        diff = tree_map(_make_diff, primals)
        flat_diff = tree_flatten(diff)[0]
        inner = _leaf_ids(flat_diff)
        out = func(*diff)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True")
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        _check_tensor_outputs(flat_out, api)
        if strict and not any(o.requires_grad for o in flat_out):
            raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                               "inputs. This is not allowed with strict=True.")
        keep = outer_grad and (_reaches_outside(flat_out, inner) or _reaches_outside(flat_t, set()))
        # J^T u is linear in u; its derivative w.r.t. u along the tangents is J @ tangents
        u = [zeros_like(o).requires_grad_(True) for o in flat_out]
        jtu = _grads(flat_out, flat_diff, u, True)
        inner |= _leaf_ids(u)
        tan = _grads(jtu, u, flat_t, keep)
    out = _unwrap(tree_unflatten(flat_out, out_spec), inner, keep)
    tan = _unwrap(tree_unflatten(tan, out_spec), inner, keep)
    return (out, tan, _unwrap(aux, inner, keep)) if has_aux else (out, tan)


# ---- Jacobians -------------------------------------------------------------------------------------
def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """A function returning the Jacobian of func w.r.t. its argnums inputs, one reverse pass per output element."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        from .. import stack
        nums = _validate_argnums(argnums, len(args))
        out, _, aux, (flat_out, out_spec, flat_diff, diff_spec) = _vjp(func, args, nums, has_aux)
        keep = is_grad_enabled() and _reaches_outside(flat_out, _leaf_ids(flat_diff))
        inner = _leaf_ids(flat_diff)
        numels = [o.numel() for o in flat_out]
        rows = [[] for _ in flat_diff]   # per input: one gradient per output element
        with enable_grad():
            for k, o in enumerate(flat_out):
                flat_o = o.reshape(-1)
                for j in range(numels[k]):
                    for i, g in enumerate(_grads([flat_o[j]], flat_diff, [None], keep)):
                        rows[i].append(g)
        per_output = []
        start = 0
        for k, o in enumerate(flat_out):
            blocks = []
            for i, x in enumerate(flat_diff):
                shape = tuple(o.shape) + tuple(x.shape)
                part = rows[i][start:start + numels[k]]
                block = stack(part).reshape(shape) if part else x.new_zeros(shape)
                blocks.append(_unwrap(block, inner, keep))
            start += numels[k]
            per_output.append(tree_unflatten(blocks, diff_spec))
        jac = tree_unflatten(per_output, out_spec)
        return (jac, aux) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function returning the Jacobian of func w.r.t. its argnums inputs (ember computes it in reverse mode)."""
    from .vmap import _check_randomness_arg
    _check_randomness_arg(randomness)
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """A function returning the Hessian of scalar func w.r.t. its argnums inputs (the Jacobian of its gradient)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- linearize -------------------------------------------------------------------------------------
def linearize(func, *primals):
    """(func(*primals), jvp_fn): jvp_fn(*tangents) gives J @ tangents at primals, from one saved graph."""
    from .. import zeros_like
    from .._tensor import Tensor
    output = func(*primals)     # as torch: func runs once for the value and once more for the graph
    _, output_spec = tree_flatten(output)
    flat_primals, primals_spec = tree_flatten(primals)
    for p in flat_primals:
        if not isinstance(p, Tensor):
            raise AttributeError(f"'{type(p).__name__}' object has no attribute 'new_empty' (linearize: every "
                                 "primal must be a Tensor)")
        if not (p.is_floating_point() or p.is_complex()):
            raise ValueError(f"Expected primal to be floating point or complex, but got: {p.dtype}")
    meta = [(p.shape, p.device, p.dtype) for p in flat_primals]
    with enable_grad():
        diff = tree_map(_make_diff, primals)
        flat_diff = tree_flatten(diff)[0]
        inner = _leaf_ids(flat_diff)
        flat_out = tree_flatten(func(*diff))[0]
        # J^T u is linear in u: differentiating it w.r.t. u along the tangents gives J @ tangents
        diffable = [i for i, o in enumerate(flat_out)
                    if isinstance(o, Tensor) and (o.is_floating_point() or o.is_complex())]
        outs = [flat_out[i] for i in diffable]
        reaches_outside = _reaches_outside(outs, inner)
        u = [zeros_like(o).requires_grad_(True) for o in outs]
        jtu = _grads(outs, flat_diff, u, True)
        inner |= _leaf_ids(u)

    def jvp_fn(*tangents):
        flat_t, t_spec = tree_flatten(tangents)
        if t_spec != primals_spec:
            raise RuntimeError(f"Expected the tangents {t_spec} to have the same argspec as the primals {primals_spec}")
        for idx, (t, (shape, device, dtype)) in enumerate(zip(flat_t, meta)):
            for what, got, want in (("shape", t.shape, shape), ("device", t.device, device), ("dtype", t.dtype, dtype)):
                if got != want:
                    raise RuntimeError(f"tangent:{idx} with {what} {got} in flattened pytree doesn't match the "
                                       f"{what} {want} of the corresponding primal.")
        keep = is_grad_enabled() and (reaches_outside or _reaches_outside(flat_t, set()))
        with enable_grad():
            tan = _grads(jtu, u, flat_t, keep)
        result = [zeros_like(o) if isinstance(o, Tensor) else o for o in flat_out]
        for i, t in zip(diffable, tan):
            result[i] = t
        return _unwrap(tree_unflatten(result, output_spec), inner, keep)

    return output, jvp_fn


# ---- functionalize / debug_unwrap --------------------------------------------------------------------
def functionalize(func, *, remove="mutations"):
    """func with torch's functionalize semantics: ember runs func eagerly (there is no graph to rewrite),
    which already gives its values and its mutations of inputs; remove='mutations_and_views' also
    returns copies where func returns views, as torch's view_copy ops do."""
    if remove == "mutations":
        copy_views = False
    elif remove == "mutations_and_views":
        copy_views = True
    else:
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}. Valid options "
            "are:\n     remove='mutations': all inplace and out= operators will be removed from the program, and "
            "replaced with their out-of-place equivalents.\n     remove='mutations_and_views': In addition to the "
            "above, all aliasing operators {view} will be replaced with their non-aliasing counterparts, "
            "{view}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        from .._tensor import Tensor
        out = func(*args, **kwargs)
        if not copy_views:
            return out
        inputs = {id(a) for a in tree_flatten((args, kwargs))[0]}

        def unalias(x):
            # an input returned as is stays itself (torch too); any other view becomes a copy
            if isinstance(x, Tensor) and x._base is not None and id(x) not in inputs:
                return x.clone()
            return x
        return tree_map(unalias, out)
    return wrapped


def debug_unwrap(tensor, *, recurse=True):
    """The tensor under a transform's wrapper: ember's transforms wrap nothing, so tensor itself."""
    from .. import _backend
    from .._tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError("is_functorch_wrapped_tensor(): incompatible function arguments. The following argument "
                        f"types are supported:\n    1. (arg0: {_backend.namespace()}.Tensor) -> bool\n\n"
                        f"Invoked with: {tensor!r}")
    return tensor
