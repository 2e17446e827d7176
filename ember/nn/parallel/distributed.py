"""DistributedDataParallel: one model replica per rank, gradients averaged across ranks.

At construction rank 0's parameters and buffers are broadcast, so every replica starts equal.
A post-hook on each parameter's ``AccumulateGrad`` node reports when that parameter's gradient
is final; when the last one has reported (still inside ``backward()``), the gradients are
copied into flat per-dtype buckets (up to ``bucket_cap_mb``, 25 MiB), each bucket is summed
across ranks with one MPI allreduce, divided by the world size and copied back into ``.grad``.
So after ``loss.backward()`` every rank holds the same averaged gradient and ``optimizer.step()``
keeps the replicas equal.  Communication does not overlap backward: measured on 2 cores it does
not pay, and one guarded round of allreduces is the cheapest and simplest.
"""
import contextlib
import weakref

import numpy as np

from ..._tensor import Tensor, _wrap
from ...autograd import graph
from ...autograd.grad_mode import is_grad_enabled
from ..modules.module import Module
from ..._userwarn import warn as _warn_user

__all__ = ["DistributedDataParallel"]

_MiB = 1024 * 1024


def _c10d():
    from ...distributed import distributed_c10d
    return distributed_c10d


class _Bucket:
    """A flat buffer holding the gradients of some parameters of one dtype, back to back."""

    __slots__ = ("buffer", "members")  # members: [(param index, view shaped like the param)]

    def __init__(self, dtype, entries):
        n = sum(size for _, size, _ in entries)
        self.buffer = np.zeros(n, dtype=dtype)
        self.members = []
        offset = 0
        for index, size, shape in entries:
            self.members.append((index, self.buffer[offset:offset + size].reshape(shape)))
            offset += size


def _host(array):
    return array if type(array) is np.ndarray else array.get()


class _Reducer:
    """Tracks which parameters' gradients are ready and allreduces the buckets when all are."""

    def __init__(self, params, names, pg, cap_bytes, find_unused, as_view):
        self.params = params
        self.names = names
        self.pg = pg
        self.find_unused = find_unused
        self.as_view = as_view
        self.expect = False          # a synced forward ran: this backward must reduce
        self.ready = [False] * len(params)
        self.pending = 0
        self.unused = ()             # indices no path from the outputs reaches (find_unused)
        self.views = [None] * len(params)
        self.buckets = self._assign_buckets(cap_bytes)
        # The hooks live on the AccumulateGrad nodes; holding the nodes keeps every backward
        # using these same nodes (and so these hooks), as torch's reducer holds grad_accs.
        self.accumulators = []
        for i, p in enumerate(params):
            acc = graph.accumulator(p)
            acc.register_hook(self._hook(i))
            self.accumulators.append(acc)

    def _assign_buckets(self, cap_bytes):
        # reverse registration order: roughly the order backward produces the gradients
        open_buckets = {}
        closed = []
        for i in reversed(range(len(self.params))):
            arr = self.params[i]._data
            dtype = np.dtype(arr.dtype)
            entries, nbytes = open_buckets.get(dtype, ([], 0))
            if entries and nbytes + arr.nbytes > cap_bytes:
                closed.append((dtype, entries))
                entries, nbytes = [], 0
            entries.append((i, arr.size, arr.shape))
            open_buckets[dtype] = (entries, nbytes + arr.nbytes)
        closed.extend((dtype, entries) for dtype, (entries, _) in open_buckets.items() if entries)
        buckets = [_Bucket(dtype, entries) for dtype, entries in closed]
        for b in buckets:
            for index, view in b.members:
                self.views[index] = view
        return buckets

    def _hook(self, index):
        # a weak reference: the hook outlives nothing (hooks are held by the node registry,
        # and the reducer holds the nodes; a strong one would keep both alive forever)
        ref = weakref.ref(self)

        def on_grad_ready(grad_inputs, grad_outputs):
            self = ref()
            if self is None or not self.expect:
                return
            if self.ready[index]:
                raise RuntimeError(
                    f"Expected to mark a variable ready only once. Parameter '{self.names[index]}' "
                    f"(index {index}) received its gradient twice in one backward pass of "
                    "DistributedDataParallel: backward ran twice through the same forward "
                    "(retain_graph=True) or the parameter is shared with another DDP model. Run "
                    "a new forward pass for each backward, or accumulate under ddp.no_sync().")
            self.ready[index] = True
            self.pending -= 1
            if self.pending == 0:
                self.finalize()
        return on_grad_ready

    def check_finished(self):
        """Before a new synced forward: the previous one's backward must have reduced."""
        if self.expect and 0 < self.pending < len(self.params) - len(self.unused):
            missing = [i for i in range(len(self.params)) if not self.ready[i]]
            self.expect = False
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. "
                "This error indicates that your module has parameters that were not used in producing "
                "loss. You can enable unused parameter detection by passing the keyword argument "
                "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by "
                "making sure all `forward` function outputs participate in calculating loss.\n"
                f"Parameter indices which did not receive grad for rank {self.pg.rank()}: "
                f"{' '.join(map(str, missing))}\n"
                f"Parameters which did not receive grad for rank {self.pg.rank()}: "
                f"{', '.join(self.names[i] for i in missing)}")

    def prepare(self, outputs):
        """After a synced forward: expect every (used) parameter to report during backward."""
        n = len(self.params)
        self.ready = [False] * n
        self.unused = ()
        if self.find_unused:
            reached = _reachable_accumulators(outputs)
            self.unused = tuple(i for i in range(n) if id(self.accumulators[i]) not in reached)
            for i in self.unused:
                self.ready[i] = True
        self.pending = n - len(self.unused)
        self.expect = True
        if self.pending == 0:
            # nothing will report in backward: take part in the other ranks' reduction now
            self.finalize()

    def finalize(self):
        """Average the gradients across ranks: fill buckets, allreduce, divide, copy back."""
        self.expect = False
        params, views = self.params, self.views
        for b in self.buckets:
            for i, view in b.members:
                g = params[i].grad
                if g is None:
                    view.fill(0)      # unused here: contribute nothing
                elif g._data is not view:
                    view[...] = _host(g._data)
        arrays = [b.buffer for b in self.buckets]
        used = None
        if self.find_unused:
            used = np.ones(len(params), dtype=np.int64)
            used[list(self.unused)] = 0
            arrays.append(used)
        _c10d()._allreduce_buffers(self.pg, arrays)
        size = self.pg.size()
        if size > 1:
            for b in self.buckets:
                np.divide(b.buffer, b.buffer.dtype.type(size), out=b.buffer)
        for i, p in enumerate(params):
            if used is not None and used[i] == 0:
                continue  # no rank used it: leave its gradient as it is, as torch does
            view = views[i]
            g = p.grad
            if type(p._data) is not np.ndarray:  # GPU parameter: back through host memory
                from ... import _backend
                dev = _backend.array_module(p.device).asarray(view)
                if g is None:
                    p.grad = _wrap(dev)
                else:
                    g._data[...] = dev
                    g._vc[0] += 1
            elif self.as_view:
                if g is None or g._data is not view:
                    p.grad = _wrap(view)
                else:
                    g._vc[0] += 1
            elif g is None:
                p.grad = _wrap(view.copy())
            else:
                g._data[...] = view
                g._vc[0] += 1


def _reachable_accumulators(outputs):
    """ids of the AccumulateGrad nodes reachable backwards from the tensors in outputs."""
    seen = set()
    stack = []
    for t in _find_tensors(outputs):
        node, _ = graph.edge(t)
        if node is not None:
            stack.append(node)
    reached = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is graph.AccumulateGrad:
            reached.add(id(node))
        for child, _ in node.next_functions:
            if child is not None and id(child) not in seen:
                stack.append(child)
    return reached


def _find_tensors(obj):
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _find_tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _find_tensors(o)]
    return []


class DistributedDataParallel(Module):
    """Data parallelism across the ranks of a process group: wrap the model, train as usual.

    Each rank runs its own replica on its share of the data (see DistributedSampler);
    ``backward()`` leaves every rank with the gradient averaged over all ranks.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, skip_all_reduce_unused_params=False, bucket_cap_mb_list=None,
                 batched_grad_copy=False, forward_sync_buffers=None):
        super().__init__()
        c10d = _c10d()
        if device_mesh is not None:
            raise NotImplementedError("DistributedDataParallel(device_mesh=...) is not supported by ember; "
                                      "pass process_group instead")
        if mixed_precision is not None or delay_all_reduce_named_params is not None:
            raise NotImplementedError("DistributedDataParallel: mixed_precision and delayed allreduce are not "
                                      "supported by ember")
        pg = c10d._resolve(process_group)
        if pg is None:
            raise RuntimeError("DistributedDataParallel: this rank is not a member of process_group; "
                               "only the group's ranks may wrap a model with it")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel expects an nn.Module, got {type(module).__name__}")
        ignore = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
        named = [(n, p) for n, p in module.named_parameters() if n not in ignore]
        if not any(p.requires_grad for _, p in named):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        device_types = {p.device.type for _, p in named}
        if len(device_types) != 1:
            raise ValueError("DistributedDataParallel's input module must be on the same type of devices, "
                             f"but input module parameters locate in {device_types}.")
        self.device_type = next(iter(device_types))
        if self.device_type == "cpu" and (device_ids or output_device is not None):
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters "
                f"{ {p.device for _, p in named} }.")
        if broadcast_buffers is not None and forward_sync_buffers is None:
            _warn_user("`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead.",
                       FutureWarning)
        if check_reduction:
            _warn_user("The `check_reduction` argument in `DistributedDataParallel` module is deprecated. "
                       "Please avoid using it.", FutureWarning)
        if forward_sync_buffers is not None:
            self.forward_sync_buffers = bool(forward_sync_buffers)
            init_sync_buffers = True
        else:
            self.forward_sync_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
            init_sync_buffers = self.forward_sync_buffers
        self.process_group = pg
        self.module = module
        self.device_ids = None if self.device_type == "cpu" else device_ids
        self.output_device = output_device
        self.dim = dim
        self.device = named[0][1].device
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.parameters_to_ignore = ignore
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.broadcast_bucket_size = 250 * _MiB
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * _MiB)
        self._modules_buffers = [b for n, b in module.named_buffers() if n not in ignore]

        params = [(n, p) for n, p in named if p.requires_grad]
        if init_sync:
            self._verify_same_model(named)
            state = [p for _, p in named] + (self._modules_buffers if init_sync_buffers else [])
            self._broadcast(state, "DistributedDataParallel: broadcast of rank 0's parameters and buffers")
        self._reducer = _Reducer([p for _, p in params], [n for n, _ in params], pg, self.bucket_bytes_cap,
                                 find_unused_parameters, gradient_as_bucket_view)

    def _verify_same_model(self, named):
        pg = self.process_group
        if pg.size() == 1:
            return
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
        everyone = [None] * pg.size()
        _c10d().all_gather_object(everyone, mine, group=pg)
        ref = everyone[0]
        for r, theirs in enumerate(everyone):
            if theirs == ref:
                continue
            if len(theirs) != len(ref):
                detail = f"Rank {r} has {len(theirs)} params, while rank 0 has inconsistent {len(ref)} params."
            else:
                a, b = next((a, b) for a, b in zip(ref, theirs) if a != b)
                detail = (f"Parameter '{a[0]}' is {a[2]} of shape {list(a[1])} on rank 0 but '{b[0]}' is "
                          f"{b[2]} of shape {list(b[1])} on rank {r}.")
            raise RuntimeError(
                f"DDP expects same model across all ranks, but the models differ: {detail} Build the "
                "model the same way on every rank before wrapping it in DistributedDataParallel.")

    def _broadcast(self, tensors, what):
        pg = self.process_group
        if pg.size() == 1 or not tensors:
            return
        c10d = _c10d()
        bufs = [c10d._Buf(t) for t in tensors]
        c10d._broadcast_buffers(pg, [b.array for b in bufs], 0, what)
        for b in bufs:
            b.done()

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module; prepare the gradient reduction of the coming backward."""
        sync = self.require_backward_grad_sync and is_grad_enabled()
        reducer = self._reducer
        if sync:
            reducer.check_finished()
        if self.require_forward_param_sync and self.forward_sync_buffers and self._modules_buffers:
            self._broadcast(self._modules_buffers, "DistributedDataParallel: buffer broadcast in forward")
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            reducer.prepare(output if self.find_unused_parameters else None)
        else:
            self.require_forward_param_sync = False
            reducer.expect = False
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context, backward accumulates gradients locally without communicating;
        the first synced backward after it averages the accumulated sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def join(self, *args, **kwargs):
        raise NotImplementedError(
            "DistributedDataParallel.join (uneven inputs) is not supported by ember: give every rank "
            "the same number of batches, e.g. DistributedSampler(..., drop_last=True)")

    def _set_static_graph(self):
        self.static_graph = True

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel cannot be pickled: save ddp.module (or its state_dict) "
                           "instead")
