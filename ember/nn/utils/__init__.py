"""ember.nn.utils: gradient clipping, parameter/vector conversion, parametrizations (torch.nn.utils)."""
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,  # noqa: F401
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters"]

from . import rnn  # noqa: F401,E402  (torch.nn.utils.rnn: pad_sequence, PackedSequence, packing)
__all__ += ["rnn"]

from . import stateless  # noqa: F401,E402  (torch.nn.utils.stateless.functional_call, deprecated in torch)
__all__ += ["stateless"]

# torch.nn.utils.parametrize / parametrizations, and the older hook-based weight and spectral norm
from . import parametrize, parametrizations  # noqa: F401,E402
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401,E402
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401,E402
__all__ += ["parametrize", "parametrizations", "weight_norm", "remove_weight_norm", "spectral_norm",
            "remove_spectral_norm"]

from . import prune  # noqa: F401,E402  (torch.nn.utils.prune: mask reparametrization and pruning methods)
__all__ += ["prune"]

# torch.nn.utils.fusion (conv/linear + eval BatchNorm folding), skip_init, conv weight memory formats
from . import fusion, memory_format  # noqa: F401,E402
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,  # noqa: F401,E402
                     fuse_linear_bn_weights)
from .init import skip_init  # noqa: F401,E402
from .memory_format import (convert_conv2d_weight_memory_format,  # noqa: F401,E402
                            convert_conv3d_weight_memory_format)
__all__ += ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
            "skip_init", "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]
