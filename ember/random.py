"""The default random generator, seeded by manual_seed."""
import numpy as np


class Generator:
    """A source of random numbers for ember's random ops (NumPy's PCG64 underneath)."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        self.device = device

    def manual_seed(self, seed):
        """Reseed; the same seed gives the same numbers."""
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
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
        """The generator state (an opaque object for set_state)."""
        from ._tensor import _wrap
        import pickle
        blob = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return _wrap(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state returned by get_state."""
        import pickle
        self._seed, st = pickle.loads(new_state.numpy().tobytes())
        self._rng.bit_generator.state = st
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator (and CUDA's when present) for reproducible runs."""
    default_generator.manual_seed(seed)
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
    """The numpy Generator behind an ember Generator (default when None)."""
    return (generator or default_generator)._rng
