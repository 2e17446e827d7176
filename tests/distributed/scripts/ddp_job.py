"""DistributedDataParallel on small Linear models; each rank reports what the test checks."""
import ember
import ember.distributed as dist
import ember.nn as nn
from ember.nn.parallel import DistributedDataParallel as DDP
from _report import report

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
res = {}


def gather(obj):
    out = [None] * size
    dist.all_gather_object(out, obj)
    return out


def make(seed, hidden=8, extra=False):
    ember.manual_seed(seed)
    layers = [nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2)]
    return nn.Sequential(*layers)


def flat(tensors):
    return [v for t in tensors for v in t.detach().reshape(-1).tolist()]


# 1. construction broadcasts rank 0's parameters (each rank initialised differently)
rank0_init = flat(make(100).parameters())
model = make(100 + rank)
ddp = DDP(model)
res["params_after_init_equal_rank0"] = max(abs(a - b) for a, b in zip(flat(model.parameters()), rank0_init)) == 0
res["module_is_model"] = ddp.module is model
res["state_dict_keys"] = list(ddp.state_dict().keys())
res["repr_first_line"] = repr(ddp).splitlines()[0]


# 2. one backward averages the gradients: compare with one process on the combined batch
def reference_grads(batches, start_state):
    ref = make(0)
    ref.load_state_dict(start_state)
    for xs in batches:
        out = ref(ember.cat(xs))
        (out.pow(2).sum() / size).backward()  # each rank's loss is a sum: the mean over ranks
    return flat(p.grad for p in ref.parameters())


start = {k: v.clone() for k, v in model.state_dict().items()}
ember.manual_seed(1000 + rank)
x = ember.randn(5, 4)
ddp(x).pow(2).sum().backward()
got = flat(p.grad for p in model.parameters())
want = reference_grads([gather(x)], start)
res["grad_max_diff"] = max(abs(a - b) for a, b in zip(got, want))
res["grads_identical_across_ranks"] = len({tuple(g) for g in gather(got)}) == 1

# 3. no_sync accumulates locally; the next synced backward averages the accumulated sum
model.zero_grad()
ember.manual_seed(2000 + rank)
xs = [ember.randn(3, 4) for _ in range(3)]
with ddp.no_sync():
    ddp(xs[0]).pow(2).sum().backward()
    ddp(xs[1]).pow(2).sum().backward()
res["no_sync_grads_differ"] = len({tuple(g) for g in gather(flat(p.grad for p in model.parameters()))}) > 1
ddp(xs[2]).pow(2).sum().backward()
got = flat(p.grad for p in model.parameters())
want = reference_grads([gather(x) for x in xs], start)
res["no_sync_max_diff"] = max(abs(a - b) for a, b in zip(got, want))

# 4. tiny buckets (one per parameter) and gradient_as_bucket_view give the same averages
for key, kwargs in (("small_buckets", dict(bucket_cap_mb=1e-5)), ("bucket_view", dict(gradient_as_bucket_view=True))):
    m2 = make(7)
    d2 = DDP(m2, **kwargs)
    m2.load_state_dict(start)
    res[key + "_nbuckets"] = len(d2._reducer.buckets)
    for _ in range(2):  # twice: the second backward accumulates into the bucket views
        d2(x).pow(2).sum().backward()
    got = flat(p.grad for p in m2.parameters())
    m3 = make(7)
    m3.load_state_dict(start)
    for _ in range(2):
        (m3(ember.cat(gather(x))).pow(2).sum() / size).backward()
    res[key + "_max_diff"] = max(abs(a - b) for a, b in zip(got, flat(p.grad for p in m3.parameters())))


# 5. an unused parameter without find_unused_parameters: the next forward says so
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(4, 2)
        self.never = nn.Linear(4, 2)

    def forward(self, x, use_b=True):
        return self.a(x) + (self.b(x) if use_b else 0)


m = Branchy()
d = DDP(m)
d(x, use_b=False).sum().backward()
try:
    d(x).sum().backward()
    res["unused_error"] = None
except RuntimeError as e:
    res["unused_error"] = str(e)

# 6. find_unused_parameters: b is used on rank 1 only, never on no rank
m = Branchy()
d = DDP(m, find_unused_parameters=True)
start_b = m.b.weight.detach().clone()
for step in range(2):
    m.zero_grad()
    out = d(x, use_b=(rank == 1))
    out.sum().backward()
per_rank_b = gather(m.b.weight.grad.tolist() if m.b.weight.grad is not None else None)
res["find_unused_b_grad"] = per_rank_b[rank]
res["find_unused_b_grads_equal"] = per_rank_b[0] == per_rank_b[1]
res["find_unused_never_grad_is_none"] = m.never.weight.grad is None
res["find_unused_a_equal"] = len({tuple(g) for g in gather(m.a.weight.grad.reshape(-1).tolist())}) == 1
# d sum(b(x)) / d b.weight = ones(2, 5) @ x on rank 1, zero elsewhere; averaged over the ranks
res["find_unused_b_expected"] = gather((ember.ones(2, 5) @ x / size).tolist())[1]


# 7. buffers: rank 0's at construction, and re-broadcast before each forward
class WithBuffer(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.lin = nn.Linear(4, 2)
        self.register_buffer("stat", ember.full((3,), float(value)))

    def forward(self, x):
        self.stat.add_(1.0 + rank)  # diverges across ranks, like BatchNorm's running stats
        return self.lin(x)


m = WithBuffer(10 + rank)
d = DDP(m)
res["buffer_after_init"] = m.stat.tolist()
d(x).sum().backward()
d(x).sum().backward()  # the second forward first re-broadcasts rank 0's buffer
res["buffer_after_two_forwards"] = m.stat.tolist()

# 8. a different model on another rank is refused with a clear error
try:
    DDP(make(3, hidden=8 if rank == 0 else 9))
    res["model_mismatch_error"] = None
except RuntimeError as e:
    res["model_mismatch_error"] = str(e)

# 9. a dropped DDP leaves no hooks behind (its reducer and AccumulateGrad nodes are freed)
import gc  # noqa: E402
from ember.autograd import graph  # noqa: E402
gc.collect()
before = len(graph._post_hooks)
tmp = DDP(make(5))
during = len(graph._post_hooks)
del tmp
gc.collect()
res["hooks_before_during_after"] = [before, during, len(graph._post_hooks)]

report(rank, res)
dist.destroy_process_group()
