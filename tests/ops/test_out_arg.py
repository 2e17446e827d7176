"""torch's out= argument: the result written into out (resized, with torch's warning when out had
elements), out returned (a named tuple of the outs for two-result functions), dtype errors; against torch."""
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch

A = [[1., 5.], [3., 4.]]

# name -> (fn(lib, out), out factory(lib) or "pair" for (values, indices))
CASES = {
    "where": (lambda L, o: L.where(L.tensor(A) > 2, L.tensor(A), L.zeros(1), out=o), None),
    "max_dim": (lambda L, o: L.max(L.tensor(A), 1, out=o), "pair"),
    "min_dim": (lambda L, o: L.min(L.tensor(A), 0, out=o), "pair"),
    "max_binary": (lambda L, o: L.max(L.tensor(A), L.tensor(A).t(), out=o), None),
    "maximum": (lambda L, o: L.maximum(L.tensor(A), L.tensor(A).t(), out=o), None),
    "minimum": (lambda L, o: L.minimum(L.tensor(A), L.tensor(A).t(), out=o), None),
    "bitwise_and": (lambda L, o: L.bitwise_and(L.tensor([3, 5]), 6, out=o), "long"),
    "logical_not": (lambda L, o: L.logical_not(L.tensor(A) > 2, out=o), "bool"),
    "nonzero": (lambda L, o: L.nonzero(L.tensor(A) > 2, out=o), "long"),
    "cumsum": (lambda L, o: L.cumsum(L.tensor(A), 0, out=o), None),
    "sort": (lambda L, o: L.sort(L.tensor(A), out=o), "pair"),
    "topk": (lambda L, o: L.topk(L.tensor(A), 1, out=o), "pair"),
    "argmax": (lambda L, o: L.argmax(L.tensor(A), 1, out=o), "long"),
    "prod": (lambda L, o: L.prod(L.tensor(A), 1, out=o), None),
    "std": (lambda L, o: L.std(L.tensor(A), 1, out=o), None),
    "index_select": (lambda L, o: L.index_select(L.tensor(A), 0, L.tensor([1]), out=o), None),
    "gather": (lambda L, o: L.gather(L.tensor(A), 1, L.tensor([[0], [1]]), out=o), None),
    "logsumexp": (lambda L, o: L.logsumexp(L.tensor(A), 1, out=o), None),
    "kthvalue": (lambda L, o: L.kthvalue(L.tensor(A), 1, out=o), "pair"),
    "median_dim": (lambda L, o: L.median(L.tensor(A), 1, out=o), "pair"),
    "tril": (lambda L, o: L.tril(L.tensor(A), out=o), None),
    "diff": (lambda L, o: L.diff(L.tensor(A), out=o), None),
    "histc": (lambda L, o: L.histc(L.tensor(A), 4, out=o), None),
    "add": (lambda L, o: L.add(L.tensor(A), 1, out=o), None),
    "arange": (lambda L, o: L.arange(4, out=o), None),
    "zeros": (lambda L, o: L.zeros(3, out=o), None),
    # sum, prod, cumsum, cumprod compute in out's dtype (the input cast first, as torch)
    "sum_into_long": (lambda L, o: L.sum(L.tensor(A) + 0.5, 1, out=o), "long"),
    "cumsum_into_long": (lambda L, o: L.cumsum(L.tensor(A) + 0.5, 0, out=o), "long"),
    "prod_into_double": (lambda L, o: L.prod(L.tensor(A), 0, out=o), "double"),
}


def _make_out(L, kind, n):
    if kind == "pair":
        return (L.empty(n), L.empty(n, dtype=L.long))
    dtype = {"long": L.long, "bool": L.bool, "double": L.float64}.get(kind, L.float32)
    return L.empty(n, dtype=dtype)


def _run(L, name, n):
    fn, kind = CASES[name]
    out = _make_out(L, kind, n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn(L, out)
    resized = sum("was resized" in str(w.message) or "will be resized" in str(w.message) for w in caught)
    if kind == "pair":
        assert res[0] is out[0] and res[1] is out[1]
        return [out[0].tolist(), out[1].tolist()], resized
    assert res is out
    return out.tolist(), resized


@pytest.mark.parametrize("n", [0, 7])
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_is_written_and_returned(name, n):
    values, resized = _run(ember, name, n)
    assert values != [] and (resized == 0 if n == 0 else True)


@requires_torch
@pytest.mark.parametrize("n", [0, 7])
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_matches_torch(name, n):
    assert _run(ember, name, n) == _run(torch, name, n)


def test_out_errors():
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        ember.add(ember.ones(2), 1, out=ember.empty(0, dtype=ember.long))
    keep = ember.empty(0, dtype=ember.long)
    with pytest.raises(RuntimeError):
        ember.where(ember.ones(2) > 0, ember.ones(2), ember.zeros(2), out=keep)
    assert keep.shape == (0,)   # nothing half-written
    with pytest.raises(TypeError, match="tuple of 2 Tensors"):
        ember.sort(ember.ones(3), out=ember.empty(0))
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        ember.cumsum(x, 0, out=ember.empty(0))
