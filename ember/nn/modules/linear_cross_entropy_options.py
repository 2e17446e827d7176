"""torch.nn.LinearCrossEntropyOptions: how linear_cross_entropy splits the batch into chunks."""
import dataclasses
from typing import Literal, NamedTuple

from ... import _backend as B

__all__ = ["LinearCrossEntropyOptions"]


class _AutoDefault(NamedTuple):
    acc_policy: str
    chunking_method: str


# torch's picks for the "auto" sentinels, by (device type, input dtype); other pairs take _AUTO_FALLBACK
_AUTO_DEFAULTS = {
    ("cuda", B.float16): _AutoDefault("compact", "aspect_ratio:2"),
    ("cpu", B.float16): _AutoDefault("accurate", "aspect_ratio"),
}
if hasattr(B, "bfloat16"):  # not every ember build has bfloat16
    _AUTO_DEFAULTS[("cuda", B.bfloat16)] = _AutoDefault("compact", "aspect_ratio:2")
    _AUTO_DEFAULTS[("cpu", B.bfloat16)] = _AutoDefault("accurate", "aspect_ratio")
_AUTO_FALLBACK = _AutoDefault("compact", "aspect_ratio:2")

_LOW_PRECISION = tuple(d for d in (B.float16, getattr(B, "bfloat16", None)) if d is not None)
_SUPPORTED_ACC_DTYPES = _LOW_PRECISION + (B.float32, B.float64)


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """Options of linear_cross_entropy's chunked path (batch chunk size, accumulation policy and dtype)."""

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: Literal["accurate", "balanced", "compact", "auto"] = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            if not sep:
                factor = "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if not (self.batch_chunk_size is None
                or (isinstance(self.batch_chunk_size, int) and self.batch_chunk_size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {self.batch_chunk_size!r}")
        if self.acc_dtype is not None and self.acc_dtype not in _SUPPORTED_ACC_DTYPES:
            ns = B.namespace()
            raise ValueError(f"acc_dtype must be one of {{None, {ns}.float16, {ns}.bfloat16, {ns}.float32, "
                             f"{ns}.float64}}, got {self.acc_dtype!r}. Pass acc_dtype=None to let the op pick "
                             "automatically.")

    @staticmethod
    def _ceil_div(a, b):
        """ceil(a / b) for non-negative integers."""
        return -(-a // b)

    @staticmethod
    def _resolve_auto_acc_dtype(dtype, device):
        """float32 for float16/bfloat16 input where mixed-precision products work (CPU; CUDA from compute
        capability 7.0, 8.0 for bfloat16); None otherwise (the input dtype is used)."""
        if device is None or dtype not in _LOW_PRECISION:
            return None
        if device.type == "cuda":
            from ... import cuda
            if not cuda.is_available():
                return None
            major, _ = cuda.get_device_capability(device)
            if major < (7 if dtype is B.float16 else 8):
                return None
            return B.float32
        if device.type == "cpu":
            return B.float32
        return None

    def _compute_batch_chunk_size(self, num_batches, in_features, num_classes, method=None):
        """The chunk size the aspect-ratio heuristic gives: a (chunk, num_classes) logits block about the
        size of the (num_batches, in_features) input, rounded up to a power of two, divided by N."""
        method = str(method if method is not None else self.chunking_method)
        if method.startswith("aspect_ratio"):
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            rows = self._ceil_div(num_batches, self._ceil_div(num_classes, in_features))
            chunk = 1 << (rows - 1).bit_length()
            return min(chunk // factor, num_batches)
        raise AssertionError(f"unhandled chunking_method: {method!r}")

    def _adjust(self, num_batches, in_features, num_classes, dtype, device=None):
        """These options with every "auto" and None resolved for one call (device=None: the fallback picks)."""
        acc_policy, chunking_method = self.acc_policy, self.chunking_method
        if chunking_method == "auto" and self.batch_chunk_size is not None:
            chunking_method = None  # an explicit size wins over the automatic one
        if acc_policy == "auto" or chunking_method == "auto":
            ap, cm = _AUTO_DEFAULTS.get((device.type, dtype), _AUTO_FALLBACK) if device is not None \
                else _AUTO_FALLBACK
            if acc_policy == "auto":
                acc_policy = ap
            if chunking_method == "auto":
                chunking_method = cm
        batch_chunk_size = num_batches if self.batch_chunk_size is None else min(self.batch_chunk_size, num_batches)
        if chunking_method is not None:
            batch_chunk_size = self._compute_batch_chunk_size(num_batches, in_features, num_classes,
                                                              chunking_method)
            if self.batch_chunk_size is not None and self.batch_chunk_size != batch_chunk_size:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method "
                                 f"('{chunking_method}') give different chunk sizes ({self.batch_chunk_size} vs "
                                 f"{batch_chunk_size}); pass only one.")
        if self.acc_dtype is None:
            auto = self._resolve_auto_acc_dtype(dtype, device) if self.acc_policy == "auto" else None
            acc_dtype = dtype if auto is None else auto
        else:
            acc_dtype = self.acc_dtype
        return dataclasses.replace(self, acc_policy=acc_policy, chunking_method=chunking_method,
                                   batch_chunk_size=max(1, batch_chunk_size), acc_dtype=acc_dtype)
