"""Probability distributions (torch.distributions): parameters, sampling, log densities, entropy and
KL divergence, all differentiable with respect to the parameters.

Samples draw from ember's generators (``ember.manual_seed`` reproduces them), mostly with torch's own
numbers for the same seed (where a distribution samples through rand/randn/poisson/binomial/gamma).
"""
from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution, ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .poisson import Poisson
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "ExponentialFamily", "Exponential",
           "Gamma", "Independent", "Laplace", "MultivariateNormal", "Normal", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Poisson", "Uniform", "constraints", "kl_divergence",
           "register_kl"]

# the remaining standalone distributions (no transforms needed)
from .binomial import Binomial
from .chi2 import Chi2
from .continuous_bernoulli import ContinuousBernoulli
from .fishersnedecor import FisherSnedecor
from .generalized_pareto import GeneralizedPareto
from .geometric import Geometric
from .lkj_cholesky import LKJCholesky
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial
from .negative_binomial import NegativeBinomial
from .studentT import StudentT
from .von_mises import VonMises
from .wishart import Wishart

__all__ += ["Binomial", "Chi2", "ContinuousBernoulli", "FisherSnedecor", "GeneralizedPareto", "Geometric",
            "LKJCholesky", "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial", "NegativeBinomial",
            "StudentT", "VonMises", "Wishart"]
