"""One code path for CPU and GPU: op kernels take their array module from their inputs.

Every function in ember/ops/*.py computes with ``xp = xp_of(array)`` (numpy or cupy), never with
``np.<function>`` directly: a NumPy call inside a kernel would pull GPU data to the host, or fail.
dtype objects and constants (np.float32, np.nan, np.newaxis, ...) are shared by NumPy and CuPy and
stay allowed, as do a few dtype/shape helpers that only ever see dtypes and shapes.
"""
import ast
import pathlib

import numpy as np
import pytest

OPS = pathlib.Path(__file__).resolve().parents[2] / "ember" / "ops"

# dtype and shape logic: called with dtypes / shapes only, never with arrays
DTYPE_HELPERS = {"dtype", "result_type", "promote_types", "can_cast", "finfo", "iinfo", "broadcast_shapes"}

# (file, function) pairs that run on the host by design, and why
HOST_HELPERS = {
    ("convert.py", "_move"): "the transfer itself: device arrays come back through .get(), host ones stay",
    ("creation.py", "_infer_dtype"): "torch.tensor's dtype inference on Python data",
    ("creation.py", "_data_to_array"): "Python data becomes a host array, then moves to its device",
    ("creation.py", "_arange_float"): "arange/linspace reproduce torch's CPU kernel bits from Python scalars on "
                                      "the host (with ember/_fma.py)",
    ("creation.py", "arange"): "(as above; the result then moves to its device)",
    ("creation.py", "_linspace_values"): "(as above)",
    ("creation.py", "linspace"): "(as above; the result then moves to its device)",
    ("activation.py", "_erf_coefs.inner"): "erf's Chebyshev coefficients, made once as Python floats",
    ("activation.py", "_erf_coefs.outer"): "(as above)",
    ("activation.py", "_erf32_table"): "(as above: the float32 erf's table, made once on the host)",
    ("activation.py", "_erf32"): "the float32 erf's fast path: entered for NumPy arrays only (other array modules "
                                 "take the float64 fits, through xp)",
    ("activation.py", "_erf32_block"): "(as above: one block of it)",
    ("activation.py", "_taylor"): "(as above: the table's nodes and polynomial, for erf and erfc)",
    ("activation.py", "_erfc32"): "the float32 erfc's fast path: entered for NumPy arrays only (others take "
                                  "the float64 fits, through xp)",
    ("activation.py", "_erfc32_table"): "(as above: its table, made once on the host)",
    ("activation.py", "_gelu_grad_blocks"): "GELU's gradient in blocks: entered for NumPy arrays only",
    ("activation.py", "_gelu_grad_blocks.block"): "(as above: one block)",
    ("activation.py", "_in_row_blocks"): "softmax's blocks of rows: entered for NumPy arrays only (_row_blocks_fit)",
    ("reduce.py", "_max_rows"): "the running column maximum of short rows: entered for NumPy arrays only (others "
                                "reduce through their own module)",
    ("activation.py", "_sigm"): "in-place fast path for NumPy arrays only; other array modules and Tensors take "
                                "the xp formula below it",
    ("activation.py", "softmax"): "the hot path of small last-dim rows: entered for NumPy arrays only (_small_rows; "
                                  "others take the general path, through xp)",
    ("activation.py", "log_softmax"): "(as above)",
    ("elementwise.py", "relu"): "the hot path: entered for NumPy arrays only (others take _relu_general, through xp)",
    ("elementwise.py", "_relu_backward"): "the small path: entered for NumPy arrays only (its class test; "
                                          "others take the chunked path or where(), through xp)",
    ("elementwise.py", "_power"): "torch's pow special cases and the |x| route around NumPy's slow power on "
                                  "negative bases: NumPy arrays only, others take a ** b",
    ("elementwise.py", "_power_arrays"): "(as above: a tensor exponent's negative bases, NumPy arrays only)",
    ("elementwise.py", "_fmod_narrow"): "fmod's exact float64 route for float16/float32: NumPy arrays only",
    ("elementwise.py", "_fmod_narrow.block"): "(as above: one block of it)",
    ("elementwise.py", "_floor_divide_narrow"): "(as above: floor division from it)",
    ("elementwise.py", "_narrow_pair"): "(as above: its operands, past a NumPy array test)",
    ("__init__.py", "bf16_vector_part"): "a mask of positions from a shape alone (bfloat16 lives on the host)",
    ("norm.py", "_resample_matrix"): "interpolate's small index/weight tables, moved to the input's device",
    ("norm.py", "_nearest_source"): "(as above: one axis's source indices)",
    ("norm.py", "_linear_source"): "(as above)",
    ("norm.py", "_cubic_source"): "(as above)",
    ("norm.py", "_source_coords"): "(as above: their source coordinates)",
    ("norm.py", "_backward_map"): "(as above: a copied axis's backward table, moved to the input's device)",
    ("norm.py", "_resample_taps"): "(as above: a long axis's taps, for host arrays only)",
    ("norm.py", "_aa_filter"): "(as above: torch's separable resampling weights, built on the host)",
    ("norm.py", "_aa_taps"): "(as above)",
    ("norm.py", "_mat_from_taps"): "(as above: the taps as a matrix, for the backward pass)",
    ("norm.py", "_aa_pass"): "(as above: the tap index table; the data pass uses xp, and fma emulation on NumPy only)",
    ("norm.py", "_uint8_pass"): "(as above: the int16 weight table; the data pass uses xp)",
    ("reduce.py", "_std_sort_ties"): "replays torch's CPU std::sort tie order; called for host arrays only",
    ("reduce.py", "_topk_ties"): "(as above, for topk's partial sort)",
    ("reduce.py", "_top_k_partitioned"): "(as above: topk's partition, taken for host arrays only, whose ties "
                                         "_topk_ties replays)",
    ("reduce.py", "_top_k_by_extremes"): "(as above: sorted topk's argmax passes, taken for host arrays only)",
    ("creation.py", "_ints_of_numbers"): "(as _data_to_array: Python numbers become a host array first)",
    ("creation.py", "_wrapped_int"): "a Python int wrapped into an integer dtype, returned as a Python int",
    ("creation.py", "_python_uints"): "(as _data_to_array: Python ints become a host uint64 array first)",
    ("reduce.py", "_sum_leading"): "(as above: pairwise sums over leading rows, taken for host arrays only)",
    ("reduce.py", "_tied_slices"): "(as above: which slices of topk's choice hold ties)",
    ("reduce.py", "_stable_kth"): "(as above: kthvalue's and median's partition, for host arrays only)",
    ("reduce.py", "_stable_ties"): "(as above: those slices by a stable sort, past the replay limit)",
    ("reduce.py", "kthvalue.picker"): "(as above, for kthvalue's quickselect; the device path is the stable choice)",
    ("reduce.py", "mode.picker"): "(as above, for mode)",
    ("loss.py", "ctc_loss"): "CTC's dynamic program steps through time on the host; results move to the input's "
                             "device",
    ("loss.py", "CtcLossBackward0.apply"): "(as above)",
    ("loss.py", "_logsumexp3"): "(as above)",
    ("loss.py", "_lengths"): "(as above: the lengths are Python data)",
    ("fft.py", "fftfreq"): "frequencies computed from Python numbers on the host, then moved to the device",
    ("fft.py", "rfftfreq"): "(as above)",
    ("creation.py", "_window"): "window functions: a small table computed on the host in torch's dtype and order, "
                                "then moved to the device",
    ("creation.py", "hamming_window"): "(as above)",
    ("creation.py", "blackman_window.values"): "(as above)",
    ("creation.py", "kaiser_window.values"): "(as above)",
    ("creation.py", "frombuffer"): "wraps host memory (a Python buffer) by definition; torch.frombuffer is CPU-only",
}

# Work another helper owns while this rule landed (H12: performance of conv/pool/linalg and
# cross_entropy), following the same rule.  Remove entries as they are converted: the test below
# fails when an entry is no longer needed, so the list can only shrink.
PENDING = {}


def _is_kernel_function(name):
    """True when np.<name> is a function or module (a computation), not a type or constant."""
    if name in DTYPE_HELPERS:
        return False
    obj = getattr(np, name, None)
    if obj is None or isinstance(obj, type):
        return obj is None
    return callable(obj) or isinstance(obj, type(np))


def violations(source):
    """[(line, function, 'np.name')] for NumPy functions used in source's functions.

    Inside functions (and lambdas) any reference counts; at module level only references used as
    values (aliases, arguments such as _unary("exp", np.exp)), since module-level calls run once on
    the host at import.
    """
    tree = ast.parse(source)
    found = []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}

    def visit(node, scope):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            name = getattr(node, "name", "<lambda>")
            scope = scope + [name] if not isinstance(node, ast.Lambda) else scope + ["<lambda>"]
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            chain = node
            while isinstance(chain.value, ast.Attribute):
                chain = chain.value
            if isinstance(chain.value, ast.Name) and chain.value.id == "np" and _is_kernel_function(chain.attr):
                if scope or id(node) not in called:
                    qual = ".".join(s for s in scope if s != "<lambda>") or "<module>"
                    found.append((node.lineno, qual, "np." + chain.attr))
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(tree, [])
    return found


def _ops_files():
    # ember/fft.py holds torch.fft's ops (forward and backward) outside ember/ops, as torch keeps them
    return sorted(p for p in OPS.glob("*.py")) + [OPS.parent / "fft.py"]


@pytest.mark.parametrize("path", _ops_files(), ids=lambda p: p.name)
def test_ops_compute_with_the_array_module_of_their_inputs(path):
    pending = PENDING.get(path.name, set())
    if pending is None:
        pytest.skip(f"{path.name}: being made xp-clean by another helper (PENDING in this test)")
    bad = []
    for line, func, name in violations(path.read_text(encoding="utf-8")):
        if (path.name, func) in HOST_HELPERS or func in pending or func.split(".")[0] in pending:
            continue
        bad.append(f"{path.name}:{line} in {func}: {name}(...) -> use xp.{name[3:]} with xp = xp_of(array)")
    assert not bad, "NumPy calls in op kernels (they would fail or copy to the host on a GPU):\n" + "\n".join(bad)


def test_pending_entries_are_still_needed():
    # a file or function converted by its owner must leave PENDING, so the rule covers it again
    for name, funcs in PENDING.items():
        found = violations((OPS / name).read_text(encoding="utf-8"))
        if funcs is None:
            assert found, f"{name} is xp-clean now: remove it from PENDING in {__file__}"
            continue
        used = {f for _, f, _ in found} | {f.split(".")[0] for _, f, _ in found}
        stale = sorted(funcs - used)
        assert not stale, f"{name}: {stale} are xp-clean now: remove them from PENDING in {__file__}"


def test_host_helpers_exist():
    for (name, func) in HOST_HELPERS:
        path = OPS / name if (OPS / name).exists() else OPS.parent / name
        funcs = {f for _, f, _ in violations(path.read_text(encoding="utf-8"))}
        assert func in funcs or func.rsplit(".", 1)[0] in funcs, \
            f"{name}:{func} no longer uses NumPy: remove it from HOST_HELPERS"


def test_the_scan_finds_numpy_in_kernels():
    src = (
        "import numpy as np\n"
        "_ok = np.zeros(0)\n"                     # module-level call: runs once on the host
        "_alias = np.exp\n"                       # an alias smuggles np into kernels: flagged
        "def f(x):\n"
        "    y = np.float32(2) * x + np.nan\n"    # scalar types and constants: allowed
        "    return np.where(x > 0, x, y)\n"      # flagged
        "class N:\n"
        "    def apply(self, g):\n"
        "        return (np.add.at,)\n"           # flagged (ufunc method)
        "k = lambda g: np.lib.stride_tricks.as_strided(g)\n"  # flagged (submodule)
        "dt = np.result_type(np.float32, np.int64)\n"
    )
    found = {(f, n) for _, f, n in violations(src)}
    assert found == {("<module>", "np.exp"), ("f", "np.where"), ("N.apply", "np.add"), ("<module>", "np.lib")}
