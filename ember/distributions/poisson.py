"""Poisson distribution."""
import ember
from . import constraints
from .distribution import ExponentialFamily
from .utils import _Number, broadcast_all
from ..random import generator_for

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """Poisson with the given rate."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = ember.Size() if isinstance(rate, _Number) else self.rate.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Poisson, _instance)
        batch_shape = ember.Size(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Poisson, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=ember.Size()):
        shape = self._extended_shape(sample_shape)
        gen = generator_for(self.rate.device)
        lam = self.rate.detach().expand(shape)._data
        with gen._on_device():
            counts = gen._rng.poisson(lam)
        # a 0-d rate gives a Python int: make it an array of the rate's dtype again
        return ember.as_tensor(gen._xp.asarray(counts, dtype=lam.dtype), device=self.rate.device)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()

    @property
    def _natural_params(self):
        return (ember.log(self.rate),)

    def _log_normalizer(self, x):
        return ember.exp(x)
