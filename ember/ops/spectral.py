"""torch.stft / torch.istft: short-time Fourier transforms built from differentiable ops.

stft = pad (reflect, as torch's Python wrapper) -> unfold into frames -> times the window -> fft of each
frame; istft = inverse fft of each frame -> times the window -> overlap-add (fold) -> divided by the
overlap-added squared window.  Every step is an existing op with its own backward, so gradients (also
to the window) come for free; the transforms are not on the training hot path, so the few extra nodes
cost nothing that matters.
"""
import warnings

from .._tensor import Tensor

__all__ = ["stft", "istft"]

# torch gives these with TORCH_WARN_ONCE: once per process
_warned = set()


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=4)  # the caller of torch.stft


def _describe(input):
    return f"[{', '.join(str(s) for s in input.shape)}]"


def _window(window, n_fft, win_length, input, op):
    """The window zero-padded (centred) to n_fft, or None for the rectangular one."""
    if window is None:
        if win_length < n_fft:   # a rectangle of win_length, centred in n_fft zeros
            from .creation import zeros
            w = zeros(n_fft, dtype=input.real.dtype if input.is_complex() else input.dtype)
            left = (n_fft - win_length) // 2
            w._data[left:left + win_length] = 1
            return w
        return None
    if window.dim() != 1 or window.shape[0] != win_length:
        raise RuntimeError(f"{op}: expected a 1D window tensor of size equal to win_length={win_length}, but got "
                           f"window with size {list(window.shape)} (make it with torch.hann_window(win_length))")
    if win_length < n_fft:
        from .norm import pad
        left = (n_fft - win_length) // 2
        window = pad(window, (left, n_fft - win_length - left))
    return window


def _lengths(n_fft, hop_length, win_length, op, input):
    if hop_length is None:
        hop_length = n_fft // 4
    if win_length is None:
        win_length = n_fft
    if hop_length <= 0:
        raise RuntimeError(f"{op}: expected hop_length > 0, but got hop_length={hop_length}")
    if win_length <= 0 or win_length > n_fft:
        raise RuntimeError(f"{op}: expected 0 < win_length <= n_fft, but got win_length={win_length} "
                           f"(n_fft={n_fft})")
    return hop_length, win_length


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    """Short-time Fourier transform of a 1D signal or a batch of them: (B?, N, T) frequencies x frames."""
    from .. import fft as _fft
    from .norm import pad
    from .complex import view_as_real
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    elif not return_complex:
        _warn_once("stft_real", "stft with return_complex=False is deprecated. In a future pytorch release, stft "
                   "will return complex tensors for all inputs, and return_complex=False will raise an error.\n"
                   "Note: you can still call torch.view_as_real on the complex output to recover the old "
                   "return format.")
    if window is None:
        _warn_once("stft_window", "A window was not provided. A rectangular window will be applied,which is known "
                   "to cause spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                   "recommended to reduce spectral leakage.To suppress this warning and use a rectangular window, "
                   "explicitly set `window=torch.ones(n_fft, device=<device>)`.")
    hop_length, win_length = _lengths(n_fft, hop_length, win_length, "stft", input)
    if input.dim() not in (1, 2):
        raise RuntimeError(f"stft(input of shape {_describe(input)}, n_fft={n_fft}): expected a 1D or 2D tensor "
                           "(a signal or a batch of signals; reshape other dims into the batch)")
    if not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError(f"stft: expected a tensor of floating point or complex values, got {input.dtype} "
                           "(call .float() first)")
    x = input
    if center:
        p = n_fft // 2
        batched = x.dim() == 2
        x = pad(x.view(1, *x.shape) if batched else x.view(1, 1, -1), [p, p], pad_mode)
        x = x[0] if batched else x[0, 0]
    elif align_to_window and win_length < n_fft:
        # frames start where the window (not the n_fft frame) starts: zeros stand for the parts of
        # the frame the padded window multiplies by 0
        left = (n_fft - win_length) // 2
        x = pad(x, [left, n_fft - win_length - left])
    length = x.shape[-1]
    if n_fft <= 0 or n_fft > length:
        raise RuntimeError(f"stft(input of shape {_describe(x)}, n_fft={n_fft}): expected 0 < n_fft < {length}, "
                           f"but got n_fft={n_fft} (use a shorter n_fft or a longer signal)")
    w = _window(window, n_fft, win_length, input, "stft")
    if onesided is None:
        onesided = not complex_in
    elif onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    frames = x.unfold(-1, n_fft, hop_length)            # (B?, T, n_fft)
    if w is not None:
        frames = frames * w
    norm = "ortho" if normalized else "backward"
    spec = _fft.rfft(frames, norm=norm) if onesided else _fft.fft(frames, norm=norm)
    spec = spec.transpose(-1, -2)                       # (B?, N, T)
    if not return_complex:
        return view_as_real(spec)
    return spec


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """Inverse of stft: overlap-add of the windowed inverse transforms, divided by the window envelope."""
    from .. import fft as _fft
    from .fold import fold
    from .complex import real as _real
    if not isinstance(input, Tensor):
        raise TypeError(f"istft(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if window is None:
        _warn_once("istft_window", "A window was not provided. A rectangular window will be applied.Please provide "
                   "the same window used by stft to make the inversion lossless.To suppress this warning and use "
                   "a rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`.")
    hop_length, win_length = _lengths(n_fft, hop_length, win_length, "istft", input)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex values (B?, N, T), but got "
                           f"shape {_describe(input)}")
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    n_freq, n_frames = x.shape[-2], x.shape[-1]
    if onesided is None:
        onesided = n_freq != n_fft
    if onesided:
        if n_fft // 2 + 1 != n_freq:
            raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to "
                               f"match n_fft / 2 + 1 when onesided=True, but got {n_freq} (n_fft={n_fft})")
        if return_complex:
            raise RuntimeError("istft: cannot have onesided output if window or input is complex "
                               "(pass onesided=False with a two-sided input)")
    elif n_freq != n_fft:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft when onesided=False, but got {n_freq} (n_fft={n_fft})")
    w = _window(window, n_fft, win_length, input, "istft")
    norm = "ortho" if normalized else "backward"
    spec = x.transpose(-1, -2)                         # (B, T, N)
    if not return_complex:
        if window is not None and window.is_complex():
            raise RuntimeError("istft: a complex window needs return_complex=True")
        if not onesided:   # a real result: torch keeps the one-sided half and inverts it with c2r
            spec = spec[..., :n_fft // 2 + 1]
        frames = _fft.irfft(spec, n=n_fft, norm=norm)  # (B, T, n_fft) real
    else:
        frames = _fft.ifft(spec, norm=norm)
    if w is not None:
        frames = frames * w
    total = n_fft + hop_length * (n_frames - 1)

    def overlap_add(f):                                # (B, T, n_fft) real -> (B, total)
        cols = f.transpose(1, 2)                       # (B, n_fft, T): fold's (N, C*kh*kw, L)
        return fold(cols, (1, total), (1, n_fft), stride=(1, hop_length))[:, 0, 0]

    if frames.is_complex():
        from .complex import complex as _complex, imag as _imag
        y = _complex(overlap_add(_real(frames).contiguous()), overlap_add(_imag(frames).contiguous()))
    else:
        y = overlap_add(frames)
    if w is None:
        sq = x.new_ones(n_fft, dtype=frames.real.dtype if frames.is_complex() else frames.dtype)
    else:
        sq = (w * w.conj()).real if w.is_complex() else w * w
    env = overlap_add(sq.expand(1, n_frames, n_fft))[0]   # (total,)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = total - n_fft // 2
    else:
        end = total
    end_env = min(end, total)
    env_part = env[start:end_env]
    if env_part.shape[0] and bool((env_part.abs() < 1e-11).any()):
        raise RuntimeError(f"istft(input of shape {_describe(input)}, n_fft={n_fft}, hop_length={hop_length}, "
                           f"win_length={win_length}): window overlap add min: {float(env_part.abs().min())} "
                           "(the window's squares must overlap to a nonzero sum everywhere: use a hop_length "
                           "small enough for the window, e.g. hann_window with hop_length <= n_fft // 2)")
    y = y[:, start:end_env] / env_part
    if end > total:   # a `length` past the frames: zeros, as torch
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with "
                      "zeros in the tail. Please check your center and hop_length settings.", UserWarning, stacklevel=3)
        from .norm import pad
        if y.is_complex():
            from .complex import complex as _complex, imag as _imag
            y = _complex(pad(_real(y), [0, end - total]), pad(_imag(y), [0, end - total]))
        else:
            y = pad(y, [0, end - total])
    return y if batched else y[0]


def _register():
    Tensor.stft = stft
    Tensor.istft = istft


_register()
