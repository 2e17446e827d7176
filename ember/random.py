"""Random number generators: one per device, seeded by manual_seed.

A ``Generator`` wraps NumPy's ``Generator`` (PCG64) on the CPU and CuPy's (cuRAND XORWOW) on a
GPU, and draws only through what both offer (``random``, ``standard_normal``, ``integers``,
``standard_exponential``): CuPy's Generator has no ``normal``, ``permutation`` or ``choice``, so
those are built here from the shared ones, and every random op runs the same code on both.
"""
import numpy as np

from . import _backend as B

_DEFAULT_SEED = 67280421310721
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class Generator:
    """A source of random numbers for ember's random ops, on the CPU or a CUDA device."""

    def __init__(self, device="cpu"):
        dev = B.as_device(device)
        if dev.type == "cuda":
            from . import cuda
            cuda._check_usable(dev)
            if dev.index is None:
                dev = B.device("cuda", cuda.current_device())
            seed = cuda._seed[0]
        else:
            seed = _DEFAULT_SEED
        self.device = dev
        self._xp = B.array_module(dev)
        self.manual_seed(seed)

    def _make(self, seed):
        if self._xp is np:
            return np.random.Generator(np.random.PCG64(seed))
        with self._xp.cuda.Device(self.device.index):
            return self._xp.random.default_rng(seed)

    def manual_seed(self, seed):
        """Reseed; the same seed gives the same numbers."""
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._rng = self._make(seed)
        return self

    def seed(self):
        """Reseed from OS entropy and return the new seed."""
        seed = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        """The seed last set."""
        return self._seed

    def get_state(self):
        """The generator state (an opaque uint8 tensor for set_state)."""
        if self._xp is not np:
            raise RuntimeError(
                f"ember can't snapshot the state of a {self.device} generator (cuRAND keeps it on the "
                "GPU); reseed it with manual_seed() to reproduce a stream instead")
        from ._tensor import _wrap
        import pickle
        blob = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return _wrap(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state returned by get_state."""
        if self._xp is not np:
            raise RuntimeError(f"ember can't restore the state of a {self.device} generator; use manual_seed()")
        import pickle
        self._seed, st = pickle.loads(new_state.numpy().tobytes())
        self._rng.bit_generator.state = st
        return self

    # ---- draws: arrays on this generator's device, from what NumPy and CuPy both offer -------
    def _on_device(self):
        if self._xp is np:
            return B._NULL
        return self._xp.cuda.Device(self.device.index)

    def random(self, shape, dtype=np.float64):
        """Uniform floats in [0, 1)."""
        dtype = np.dtype(dtype)
        with self._on_device():
            if dtype in _NATIVE_FLOATS:
                return self._rng.random(shape, dtype=dtype)
            return self._rng.random(shape).astype(dtype)

    def standard_normal(self, shape, dtype=np.float64):
        """Standard normal floats."""
        dtype = np.dtype(dtype)
        with self._on_device():
            if dtype in _NATIVE_FLOATS:
                return self._rng.standard_normal(shape, dtype=dtype)
            return self._rng.standard_normal(shape).astype(dtype)

    def normal(self, mean, std, shape, dtype=np.float64):
        """Normal floats: standard_normal * std + mean (CuPy's Generator has no normal)."""
        out = self.standard_normal(shape, dtype)
        if std != 1:
            out *= std
        if mean != 0:
            out += mean
        return out

    def uniform(self, low, high, shape, dtype=np.float64):
        """Uniform floats in [low, high)."""
        out = self.random(shape, dtype)
        if high - low != 1:
            out *= high - low
        if low != 0:
            out += low
        return out

    def integers(self, low, high, shape, dtype=np.int64):
        """Uniform integers in [low, high)."""
        with self._on_device():
            return self._rng.integers(low, high, size=shape, dtype=dtype)

    def exponential(self, scale, shape, dtype=np.float64):
        """Exponential floats with the given scale (1 / rate)."""
        dtype = np.dtype(dtype)
        with self._on_device():
            if dtype in _NATIVE_FLOATS:
                out = self._rng.standard_exponential(shape, dtype=dtype)
            else:
                out = self._rng.standard_exponential(shape).astype(dtype)
        if scale != 1:
            out *= scale
        return out

    def permutation(self, n):
        """A random permutation of 0..n-1 (int64): the argsort of n uniform draws."""
        return self._xp.argsort(self.random((n,)), kind="stable").astype(np.int64, copy=False)

    def multinomial(self, probs, num_samples, replacement):
        """num_samples category indices per row of probs (rows x k, non-negative), as int64."""
        xp = self._xp
        rows, k = probs.shape
        p = probs / probs.sum(axis=1, keepdims=True)
        if replacement:
            # inverse CDF: row r's cumulative sums shifted by r make one sorted array to search
            cdf = xp.cumsum(p, axis=1)
            cdf[:, -1] = 1.0
            shift = xp.arange(rows, dtype=p.dtype)[:, None]
            u = self.random((rows, num_samples), p.dtype)
            flat = xp.searchsorted((cdf + shift).ravel(), (u + shift).ravel(), side="right")
            idx = flat.reshape(rows, num_samples) - xp.arange(rows)[:, None] * k
            return xp.minimum(idx, k - 1).astype(np.int64, copy=False)
        # without replacement: the num_samples largest keys log(u) / p (Efraimidis-Spirakis)
        u = self.random((rows, k), np.float64)
        with B.errstate(xp, divide="ignore"):
            keys = xp.log(u) / p
        return xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples].astype(np.int64, copy=False)


default_generator = Generator()
_cuda_generators = {}  # device index -> Generator, created on first use


def _cuda_generator(index):
    g = _cuda_generators.get(index)
    if g is None:
        g = _cuda_generators[index] = Generator(B.device("cuda", index))
    return g


def generator_for(device, generator=None):
    """The generator an op on device draws from: the one passed (checked), else the device's default."""
    if generator is not None:
        if generator.device.type != device.type:
            raise RuntimeError(f"Expected a '{device.type}' device type for generator but found "
                               f"'{generator.device.type}'")
        return generator
    if device.type == "cpu":
        return default_generator
    index = device.index
    if index is None:
        from . import cuda
        index = cuda.current_device()
    return _cuda_generator(index)


def manual_seed(seed):
    """Seed the default generator and every GPU's, for reproducible runs."""
    default_generator.manual_seed(seed)
    from . import cuda
    cuda.manual_seed_all(seed)
    return default_generator


def seed():
    """Seed the default generator from OS entropy."""
    return default_generator.seed()


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default generator's state."""
    default_generator.set_state(new_state)


def rng(generator=None):
    """The numpy Generator behind a CPU ember Generator (default when None), for host-side draws."""
    return (generator or default_generator)._rng
