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
from . import exp_family  # noqa: F401  (torch's module name for ExponentialFamily)
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

# transforms, the constraint registries and the distributions built on TransformedDistribution
from . import transforms
from .cauchy import Cauchy
from .constraint_registry import biject_to, transform_to
from .gumbel import Gumbel
from .half_cauchy import HalfCauchy
from .half_normal import HalfNormal
from .inverse_gamma import InverseGamma
from .kumaraswamy import Kumaraswamy
from .log_normal import LogNormal
from .logistic_normal import LogisticNormal
from .pareto import Pareto
from .relaxed_bernoulli import RelaxedBernoulli
from .relaxed_categorical import RelaxedOneHotCategorical
from .transformed_distribution import TransformedDistribution
from .transforms import *  # noqa: F401,F403  (torch exports every transform here too)
from .weibull import Weibull

__all__ += ["Cauchy", "Gumbel", "HalfCauchy", "HalfNormal", "InverseGamma", "Kumaraswamy", "LogNormal",
            "LogisticNormal", "Pareto", "RelaxedBernoulli", "RelaxedOneHotCategorical", "Weibull",
            "TransformedDistribution", "biject_to", "transform_to"]
__all__ += transforms.__all__
