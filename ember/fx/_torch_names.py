"""How torch names the functions of its namespaces, where that differs from where they live.

Generated from torch 2.13 (torch.fx.node._get_qualified_name and the repr of each public callable).
EXCEPTIONS[namespace][attribute] = (qualified name, __name__, kind), the namespace and the qualified name
relative to torch, None where a field is the default: the attribute path, the attribute name.  Kinds:
'method' (<built-in method x of type object>, the default of torch.*), 'function' (a Python function, the
default of torch.nn.functional.*), 'builtin' (<built-in function x>).  torch.linalg.x, torch.fft.x and
torch.special.x are all built-in functions named torch._C._linalg.linalg_x, and so on.
"""

EXCEPTIONS = {
    '': {
        'are_deterministic_algorithms_enabled': (None, None, 'function'),
        'atleast_1d': ('functional.atleast_1d', None, 'function'),
        'atleast_2d': ('functional.atleast_2d', None, 'function'),
        'atleast_3d': ('functional.atleast_3d', None, 'function'),
        'autocast_decrement_nesting': (None, None, 'builtin'),
        'autocast_increment_nesting': (None, None, 'builtin'),
        'block_diag': ('functional.block_diag', None, 'function'),
        'broadcast_shapes': ('functional.broadcast_shapes', None, 'function'),
        'broadcast_tensors': ('functional.broadcast_tensors', None, 'function'),
        'cartesian_prod': ('functional.cartesian_prod', None, 'function'),
        'cdist': ('functional.cdist', None, 'function'),
        'chain_matmul': ('functional.chain_matmul', None, 'function'),
        'classproperty': ('_utils.classproperty', None, 'function'),
        'clear_autocast_cache': (None, None, 'builtin'),
        'compile': (None, None, 'function'),
        'compiled_with_cxx11_abi': (None, None, 'function'),
        'cond': (None, None, 'function'),
        'eig': ('_linalg_utils.eig', None, 'function'),
        'einsum': ('functional.einsum', None, 'function'),
        'from_dlpack': ('utils.dlpack.from_dlpack', None, 'function'),
        'get_autocast_cpu_dtype': (None, None, 'builtin'),
        'get_autocast_dtype': (None, None, 'builtin'),
        'get_autocast_gpu_dtype': (None, None, 'builtin'),
        'get_autocast_ipu_dtype': (None, None, 'builtin'),
        'get_autocast_xla_dtype': (None, None, 'builtin'),
        'get_default_device': (None, None, 'function'),
        'get_default_dtype': (None, None, 'builtin'),
        'get_deterministic_debug_mode': (None, None, 'function'),
        'get_file_path': ('_utils_internal.get_file_path', None, 'function'),
        'get_float32_matmul_precision': (None, None, 'function'),
        'get_num_interop_threads': (None, None, 'builtin'),
        'get_num_threads': (None, None, 'builtin'),
        'get_rng_state': ('random.get_rng_state', None, 'function'),
        'initial_seed': ('random.initial_seed', None, 'function'),
        'is_anomaly_check_nan_enabled': (None, None, 'builtin'),
        'is_anomaly_enabled': (None, None, 'builtin'),
        'is_autocast_cache_enabled': (None, None, 'builtin'),
        'is_autocast_cpu_enabled': (None, None, 'builtin'),
        'is_autocast_enabled': (None, None, 'builtin'),
        'is_autocast_ipu_enabled': (None, None, 'builtin'),
        'is_autocast_xla_enabled': (None, None, 'builtin'),
        'is_deterministic_algorithms_warn_only_enabled': (None, None, 'function'),
        'is_grad_enabled': (None, None, 'builtin'),
        'is_inference_mode_enabled': (None, None, 'builtin'),
        'is_storage': (None, None, 'function'),
        'is_tensor': (None, None, 'function'),
        'is_warn_always_enabled': (None, None, 'function'),
        'load': ('serialization.load', None, 'function'),
        'lobpcg': ('_lobpcg.lobpcg', None, 'function'),
        'lstsq': ('_linalg_utils.lstsq', None, 'function'),
        'lu': ('functional.lu', None, 'function'),
        'manual_seed': ('random.manual_seed', None, 'function'),
        'matrix_rank': ('_linalg_utils.matrix_rank', None, 'function'),
        'meshgrid': ('functional.meshgrid', None, 'function'),
        'norm': ('functional.norm', None, 'function'),
        'pca_lowrank': ('_lowrank.pca_lowrank', None, 'function'),
        'save': ('serialization.save', None, 'function'),
        'seed': ('random.seed', None, 'function'),
        'segment_reduce': ('_segment_reduce', None, 'method'),
        'set_anomaly_enabled': (None, None, 'builtin'),
        'set_autocast_cache_enabled': (None, None, 'builtin'),
        'set_autocast_cpu_dtype': (None, None, 'builtin'),
        'set_autocast_cpu_enabled': (None, None, 'builtin'),
        'set_autocast_dtype': (None, None, 'builtin'),
        'set_autocast_enabled': (None, None, 'builtin'),
        'set_autocast_gpu_dtype': (None, None, 'builtin'),
        'set_autocast_ipu_dtype': (None, None, 'builtin'),
        'set_autocast_ipu_enabled': (None, None, 'builtin'),
        'set_autocast_xla_dtype': (None, None, 'builtin'),
        'set_autocast_xla_enabled': (None, None, 'builtin'),
        'set_default_device': (None, None, 'function'),
        'set_default_dtype': (None, None, 'function'),
        'set_default_tensor_type': (None, None, 'function'),
        'set_deterministic_debug_mode': (None, None, 'function'),
        'set_float32_matmul_precision': (None, None, 'function'),
        'set_flush_denormal': (None, None, 'builtin'),
        'set_num_interop_threads': (None, None, 'builtin'),
        'set_num_threads': (None, None, 'builtin'),
        'set_printoptions': ('_tensor_str.set_printoptions', None, 'function'),
        'set_rng_state': ('random.set_rng_state', None, 'function'),
        'set_warn_always': (None, None, 'function'),
        'solve': ('_linalg_utils.solve', None, 'function'),
        'split': ('functional.split', None, 'function'),
        'stft': ('functional.stft', None, 'function'),
        'svd_lowrank': ('_lowrank.svd_lowrank', None, 'function'),
        'sym_float': (None, None, 'function'),
        'sym_fresh_size': (None, None, 'function'),
        'sym_int': (None, None, 'function'),
        'sym_ite': (None, None, 'function'),
        'sym_max': (None, None, 'function'),
        'sym_min': (None, None, 'function'),
        'sym_not': (None, None, 'function'),
        'sym_sqrt': ('_sym_sqrt', '_sym_sqrt', 'function'),
        'sym_sum': (None, None, 'function'),
        'symeig': ('_linalg_utils._symeig', '_symeig', 'function'),
        'tensordot': ('functional.tensordot', None, 'function'),
        'thread_safe_generator': ('random.thread_safe_generator', None, 'function'),
        'to_dlpack': ('_C._to_dlpack', '_to_dlpack', 'builtin'),
        'typename': (None, None, 'function'),
        'unique': ('functional.unique', None, 'function'),
        'unique_consecutive': ('functional.unique_consecutive', None, 'function'),
        'unravel_index': ('functional.unravel_index', None, 'function'),
        'use_deterministic_algorithms': (None, None, 'function'),
        'vmap': ('func.vmap', None, 'function'),
        'while_loop': ('_higher_order_ops.while_loop.while_loop', None, 'function'),
    },
    'nn.functional': {
        'adaptive_avg_pool1d': ('adaptive_avg_pool1d', None, 'method'),
        'avg_pool1d': ('avg_pool1d', None, 'method'),
        'avg_pool2d': ('_C._nn.avg_pool2d', None, 'builtin'),
        'avg_pool3d': ('_C._nn.avg_pool3d', None, 'builtin'),
        'bilinear': ('bilinear', None, 'method'),
        'boolean_dispatch': ('_jit_internal.boolean_dispatch', None, 'function'),
        'celu_': ('celu_', None, 'method'),
        'channel_shuffle': ('channel_shuffle', None, 'method'),
        'conv1d': ('conv1d', None, 'method'),
        'conv2d': ('conv2d', None, 'method'),
        'conv3d': ('conv3d', None, 'method'),
        'conv_tbc': ('conv_tbc', None, 'method'),
        'conv_transpose1d': ('conv_transpose1d', None, 'method'),
        'conv_transpose2d': ('conv_transpose2d', None, 'method'),
        'conv_transpose3d': ('conv_transpose3d', None, 'method'),
        'cosine_similarity': ('cosine_similarity', None, 'method'),
        'elu_': ('_C._nn.elu_', None, 'builtin'),
        'gelu': ('_C._nn.gelu', None, 'builtin'),
        'handle_torch_function': ('overrides.handle_torch_function', None, 'function'),
        'hardshrink': ('hardshrink', None, 'method'),
        'hardtanh_': ('_C._nn.hardtanh_', None, 'builtin'),
        'has_torch_function': ('_C._has_torch_function', '_has_torch_function', 'builtin'),
        'has_torch_function_unary': ('_C._has_torch_function_unary', '_has_torch_function_unary', 'builtin'),
        'has_torch_function_variadic': ('_C._has_torch_function_variadic', '_has_torch_function_variadic', 'builtin'),
        'leaky_relu_': ('_C._nn.leaky_relu_', None, 'builtin'),
        'linear': ('_C._nn.linear', None, 'builtin'),
        'logsigmoid': ('_C._nn.log_sigmoid', 'log_sigmoid', 'builtin'),
        'native_channel_shuffle': ('native_channel_shuffle', None, 'method'),
        'one_hot': ('_C._nn.one_hot', None, 'builtin'),
        'pairwise_distance': ('pairwise_distance', None, 'method'),
        'pdist': ('pdist', None, 'method'),
        'pixel_shuffle': ('pixel_shuffle', None, 'method'),
        'pixel_unshuffle': ('pixel_unshuffle', None, 'method'),
        'prelu': ('prelu', None, 'method'),
        'relu_': ('relu_', None, 'method'),
        'rrelu_': ('rrelu_', None, 'method'),
        'scaled_dot_product_attention': ('_C._nn.scaled_dot_product_attention', None, 'builtin'),
        'selu_': ('selu_', None, 'method'),
        'softplus': ('_C._nn.softplus', None, 'builtin'),
        'softshrink': ('_C._nn.softshrink', None, 'builtin'),
        'threshold': ('nn.functional._threshold', '_threshold', 'function'),
        'threshold_': ('threshold_', None, 'method'),
    },
    'linalg': {
    },
    'fft': {
    },
    'special': {
    },
}

# How torch records a call of a Python function of torch.nn.functional on a Proxy: the function hands its
# arguments to __torch_function__ in its own way, defaults filled in (F.relu(x) is recorded as
# relu(x, inplace=False)).  F_CALLS[name] = (torch's parameters, those passed positionally, those passed by
# keyword[, the function recorded instead when return_indices=True]).  Generated from torch 2.13 by calling
# each function on Proxies.
F_CALLS = {
    'adaptive_avg_pool2d': ('input, output_size', 'input output_size', ''),
    'adaptive_avg_pool3d': ('input, output_size', 'input output_size', ''),
    'adaptive_max_pool1d': (
        'input, output_size, return_indices=False',
        'input output_size', 'return_indices', 'adaptive_max_pool1d_with_indices'),
    'adaptive_max_pool1d_with_indices': (
        'input, output_size, return_indices=False',
        'input output_size', 'return_indices'),
    'adaptive_max_pool2d': (
        'input, output_size, return_indices=False',
        'input output_size', 'return_indices', 'adaptive_max_pool2d_with_indices'),
    'adaptive_max_pool2d_with_indices': (
        'input, output_size, return_indices=False',
        'input output_size', 'return_indices'),
    'adaptive_max_pool3d': (
        'input, output_size, return_indices=False',
        'input output_size', 'return_indices', 'adaptive_max_pool3d_with_indices'),
    'adaptive_max_pool3d_with_indices': (
        'input, output_size, return_indices=False',
        'input output_size', 'return_indices'),
    'affine_grid': ('theta, size, align_corners=None', 'theta size', 'align_corners'),
    'alpha_dropout': ('input, p=0.5, training=False, inplace=False', 'input', 'p training inplace'),
    'batch_norm': (
        'input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05',
        'input running_mean running_var', 'weight bias training momentum eps'),
    'binary_cross_entropy': (
        "input, target, weight=None, size_average=None, reduce=None, reduction='mean'",
        'input target', 'weight size_average reduce reduction'),
    'binary_cross_entropy_with_logits': (
        "input, target, weight=None, size_average=None, reduce=None, reduction='mean', pos_weight=None",
        'input target', 'weight size_average reduce reduction pos_weight'),
    'celu': ('input, alpha=1.0, inplace=False', 'input', 'alpha inplace'),
    'cosine_embedding_loss': (
        "input1, input2, target, margin=0, size_average=None, reduce=None, reduction='mean'",
        'input1 input2 target', 'margin size_average reduce reduction'),
    'cross_entropy': (
        "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean', "
        'label_smoothing=0.0',
        'input target', 'weight size_average ignore_index reduce reduction label_smoothing'),
    'ctc_loss': (
        "log_probs, targets, input_lengths, target_lengths, blank=0, reduction='mean', zero_infinity=False",
        'log_probs targets input_lengths target_lengths', 'blank reduction zero_infinity'),
    'dropout': ('input, p=0.5, training=True, inplace=False', 'input', 'p training inplace'),
    'dropout1d': ('input, p=0.5, training=True, inplace=False', 'input', 'p training inplace'),
    'dropout2d': ('input, p=0.5, training=True, inplace=False', 'input', 'p training inplace'),
    'dropout3d': ('input, p=0.5, training=True, inplace=False', 'input', 'p training inplace'),
    'elu': ('input, alpha=1.0, inplace=False', 'input', 'alpha inplace'),
    'embedding': (
        'input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, '
        'sparse=False',
        'input weight', 'padding_idx max_norm norm_type scale_grad_by_freq sparse'),
    'embedding_bag': (
        "input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode='mean', "
        'sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None',
        'input weight',
        'offsets max_norm norm_type scale_grad_by_freq mode sparse per_sample_weights include_last_offset padding_idx'),
    'feature_alpha_dropout': ('input, p=0.5, training=False, inplace=False', 'input', 'p training inplace'),
    'fold': (
        'input, output_size, kernel_size, dilation=1, padding=0, stride=1',
        'input output_size kernel_size', 'dilation padding stride'),
    'fractional_max_pool2d': (
        'input, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None',
        'input kernel_size',
        'output_size output_ratio return_indices _random_samples',
        'fractional_max_pool2d_with_indices'),
    'fractional_max_pool2d_with_indices': (
        'input, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None',
        'input kernel_size', 'output_size output_ratio return_indices _random_samples'),
    'fractional_max_pool3d': (
        'input, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None',
        'input kernel_size',
        'output_size output_ratio return_indices _random_samples',
        'fractional_max_pool3d_with_indices'),
    'fractional_max_pool3d_with_indices': (
        'input, kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None',
        'input kernel_size', 'output_size output_ratio return_indices _random_samples'),
    'gaussian_nll_loss': (
        "input, target, var, full=False, eps=1e-06, reduction='mean'",
        'input target var', 'full eps reduction'),
    'glu': ('input, dim=-1', 'input', 'dim'),
    'grid_sample': (
        "input, grid, mode='bilinear', padding_mode='zeros', align_corners=None",
        'input grid', 'mode padding_mode align_corners'),
    'group_norm': ('input, num_groups, weight=None, bias=None, eps=1e-05', 'input num_groups', 'weight bias eps'),
    'gumbel_softmax': ('logits, tau=1, hard=False, eps=1e-10, dim=-1', 'logits', 'tau hard eps dim'),
    'hardsigmoid': ('input, inplace=False', 'input', 'inplace'),
    'hardswish': ('input, inplace=False', 'input', 'inplace'),
    'hardtanh': ('input, min_val=-1.0, max_val=1.0, inplace=False', 'input', 'min_val max_val inplace'),
    'hinge_embedding_loss': (
        "input, target, margin=1.0, size_average=None, reduce=None, reduction='mean'",
        'input target', 'margin size_average reduce reduction'),
    'huber_loss': ("input, target, reduction='mean', delta=1.0, weight=None", 'input target', 'reduction delta weight'),
    'instance_norm': (
        'input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, '
        'momentum=0.1, eps=1e-05',
        'input', 'running_mean running_var weight bias use_input_stats momentum eps'),
    'interpolate': (
        "input, size=None, scale_factor=None, mode='nearest', align_corners=None, "
        'recompute_scale_factor=None, antialias=False',
        'input', 'size scale_factor mode align_corners recompute_scale_factor antialias'),
    'kl_div': (
        "input, target, size_average=None, reduce=None, reduction='mean', log_target=False",
        'input target', 'size_average reduce reduction log_target'),
    'l1_loss': (
        "input, target, size_average=None, reduce=None, reduction='mean', weight=None",
        'input target', 'size_average reduce reduction'),
    'layer_norm': (
        'input, normalized_shape, weight=None, bias=None, eps=1e-05',
        'input normalized_shape', 'weight bias eps'),
    'leaky_relu': ('input, negative_slope=0.01, inplace=False', 'input', 'negative_slope inplace'),
    'local_response_norm': ('input, size, alpha=0.0001, beta=0.75, k=1.0', 'input size', 'alpha beta k'),
    'log_softmax': ('input, dim=None, _stacklevel=3, dtype=None', 'input', 'dim _stacklevel dtype'),
    'lp_pool1d': (
        'input, norm_type, kernel_size, stride=None, ceil_mode=False',
        'input norm_type kernel_size', 'stride ceil_mode'),
    'lp_pool2d': (
        'input, norm_type, kernel_size, stride=None, ceil_mode=False',
        'input norm_type kernel_size', 'stride ceil_mode'),
    'lp_pool3d': (
        'input, norm_type, kernel_size, stride=None, ceil_mode=False',
        'input norm_type kernel_size', 'stride ceil_mode'),
    'margin_ranking_loss': (
        "input1, input2, target, margin=0, size_average=None, reduce=None, reduction='mean'",
        'input1 input2 target', 'margin size_average reduce reduction'),
    'max_pool1d': (
        'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
        'input kernel_size', 'stride padding dilation ceil_mode return_indices', 'max_pool1d_with_indices'),
    'max_pool1d_with_indices': (
        'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
        'input kernel_size', 'stride padding dilation ceil_mode return_indices'),
    'max_pool2d': (
        'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
        'input kernel_size', 'stride padding dilation ceil_mode return_indices', 'max_pool2d_with_indices'),
    'max_pool2d_with_indices': (
        'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
        'input kernel_size', 'stride padding dilation ceil_mode return_indices'),
    'max_pool3d': (
        'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
        'input kernel_size', 'stride padding dilation ceil_mode return_indices', 'max_pool3d_with_indices'),
    'max_pool3d_with_indices': (
        'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
        'input kernel_size', 'stride padding dilation ceil_mode return_indices'),
    'max_unpool1d': (
        'input, indices, kernel_size, stride=None, padding=0, output_size=None',
        'input indices kernel_size', 'stride padding output_size'),
    'max_unpool2d': (
        'input, indices, kernel_size, stride=None, padding=0, output_size=None',
        'input indices kernel_size', 'stride padding output_size'),
    'max_unpool3d': (
        'input, indices, kernel_size, stride=None, padding=0, output_size=None',
        'input indices kernel_size', 'stride padding output_size'),
    'mish': ('input, inplace=False', 'input', 'inplace'),
    'mse_loss': (
        "input, target, size_average=None, reduce=None, reduction='mean', weight=None",
        'input target', 'size_average reduce reduction weight'),
    'multi_margin_loss': (
        "input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction='mean'",
        'input target', 'p margin weight size_average reduce reduction'),
    'multilabel_margin_loss': (
        "input, target, size_average=None, reduce=None, reduction='mean'",
        'input target', 'size_average reduce reduction'),
    'multilabel_soft_margin_loss': (
        "input, target, weight=None, size_average=None, reduce=None, reduction='mean'",
        'input target', 'weight size_average reduce reduction'),
    'nll_loss': (
        "input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean'",
        'input target', 'weight size_average ignore_index reduce reduction'),
    'normalize': ('input, p=2.0, dim=1, eps=1e-12, out=None', 'input', 'p dim eps out'),
    'pad': ("input, pad, mode='constant', value=None", 'input pad', 'mode value'),
    'poisson_nll_loss': (
        'input, target, log_input=True, full=False, size_average=None, eps=1e-08, reduce=None, '
        "reduction='mean'",
        'input target', 'log_input full size_average eps reduce reduction'),
    'relu': ('input, inplace=False', 'input', 'inplace'),
    'relu6': ('input, inplace=False', 'input', 'inplace'),
    'rms_norm': ('input, normalized_shape, weight=None, eps=None', 'input normalized_shape', 'weight eps'),
    'rrelu': (
        'input, lower=0.125, upper=0.3333333333333333, training=False, inplace=False',
        'input', 'lower upper training inplace'),
    'selu': ('input, inplace=False', 'input', 'inplace'),
    'silu': ('input, inplace=False', 'input', 'inplace'),
    'smooth_l1_loss': (
        "input, target, size_average=None, reduce=None, reduction='mean', beta=1.0",
        'input target', 'size_average reduce reduction beta'),
    'soft_margin_loss': (
        "input, target, size_average=None, reduce=None, reduction='mean'",
        'input target', 'size_average reduce reduction'),
    'softmax': ('input, dim=None, _stacklevel=3, dtype=None', 'input', 'dim _stacklevel dtype'),
    'softmin': ('input, dim=None, _stacklevel=3, dtype=None', 'input', 'dim _stacklevel dtype'),
    'softsign': ('input', 'input', ''),
    'tanhshrink': ('input', 'input', ''),
    'threshold': ('input, threshold, value, inplace=False', 'input threshold value', 'inplace'),
    'triplet_margin_loss': (
        'anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, size_average=None, reduce=None, '
        "reduction='mean'",
        'anchor positive negative', 'margin p eps swap size_average reduce reduction'),
    'triplet_margin_with_distance_loss': (
        "anchor, positive, negative, distance_function=None, margin=1.0, swap=False, reduction='mean'",
        'anchor positive negative', 'distance_function margin swap reduction'),
    'unfold': ('input, kernel_size, dilation=1, padding=0, stride=1', 'input kernel_size', 'dilation padding stride'),
    'upsample': (
        "input, size=None, scale_factor=None, mode='nearest', align_corners=None",
        'input', 'size scale_factor mode align_corners recompute_scale_factor antialias'),
    'upsample_bilinear': (
        'input, size=None, scale_factor=None',
        'input', 'size scale_factor mode align_corners recompute_scale_factor antialias'),
    'upsample_nearest': (
        'input, size=None, scale_factor=None',
        'input', 'size scale_factor mode align_corners recompute_scale_factor antialias'),

}
