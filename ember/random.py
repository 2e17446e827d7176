"""Random number generators: one per device, seeded by manual_seed.

On the CPU a ``Generator`` is torch's: a 32-bit Mersenne Twister (std::mt19937) seeded with the low
32 bits of the seed, read through NumPy's ``MT19937`` bit generator, and every CPU random op turns
its raw words into numbers the way ATen's CPU kernels do (CPUGeneratorImpl, DistributionsHelper,
cpu/DistributionTemplates), vectorized, so after ``manual_seed(s)`` ``rand``/``randn``/``randint``/
``randperm``/``uniform_``/``normal_``/``random_``/``exponential_`` give torch's exact numbers.
On a GPU it wraps CuPy's Generator (cuRAND XORWOW): torch's CUDA (Philox) numbers are not
reproduced there, and those draws go only through what CuPy offers (``random``,
``standard_normal``, ``integers``, ``standard_exponential``).
"""
import math
import struct

import numpy as np

from . import _backend as B
from ._fma import fma32_via_double as _fma32, fma64 as _fma64

_DEFAULT_SEED = 67280421310721
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
_NORMAL_FILL = (_F16, _F32, _F64)
# Elements a random transform works on at once: its NumPy passes (~80 for a float32 normal_) then
# stay in cache, and a large fill needs no temporaries of its own size (randn(10M): 1.6 -> 0.23 s;
# vgg11's initialization drew 266M values through full-size float64 temporaries)
_CHUNK = 1 << 15
_M53 = np.uint64((1 << 53) - 1)
_STATE_SIZE = 5056          # sizeof(CPUGeneratorImplState): torch's get_rng_state() layout
_LEGACY_STATE_SIZE = 5048   # sizeof(CPUGeneratorImplStateLegacy), which torch's set_state also takes


def _chunks(n):
    """[a, b) runs of at most _CHUNK elements covering range(n), in order."""
    return ((a, min(a + _CHUNK, n)) for a in range(0, n, _CHUNK))


def _libm(fn, x):
    """A libm function elementwise through Python's math module (glibc's results, bit for bit;
    NumPy's own SIMD log/log1p differ from glibc in the last bit for a fraction of inputs)."""
    return np.fromiter(map(fn, x.ravel().tolist()), np.float64, x.size).reshape(x.shape)


# ---- torch's AVX normal_fill_16 (ATen/native/cpu/avx_mathfun.h, compiled with FMA contraction) -------
_f = np.float32
_F64 = np.float64
_LOG_P = [_f(v) for v in (7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
                           1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1,
                           3.3333331174E-1)]
_LOG_Q1, _LOG_Q2, _SQRTHF = _f(-2.12194440e-4), _f(0.693359375), _f(0.707106781186547524)
_DP = (_f(-0.78515625), _f(-2.4187564849853515625e-4), _f(-3.77489497744594108e-8))
_SINC = (_f(-1.9515295891E-4), _f(8.3321608736E-3), _f(-1.6666654611E-1))
_COSC = (_f(2.443315711809948E-005), _f(-1.388731625493765E-003), _f(4.166664568298827E-002))
_FOPI = _f(1.27323954473516)
_MIN_NORM = np.array([0x00800000], np.int32).view(np.float32)[0]
_HALF_BITS = np.array([0.5], np.float32).view(np.int32)[0]
# the float64 copies of the float32 coefficients (exact) the emulated multiply-adds use
_LOG_P64 = [float(p) for p in _LOG_P]
_LOG_Q2_64 = float(_LOG_Q2)
_DP64 = [float(d) for d in _DP]
_SINC64 = [float(c) for c in _SINC]
_COSC64 = [float(c) for c in _COSC]


def _horner(x64, coefs):
    """fmaf(... fmaf(fmaf(c0, x, c1), x, c2) ..., x, cn) as _fma32 computes each: the float64 product
    and sum of float32 values, rounded to float32 (x64: x in float64)."""
    y = (coefs[0] * x64 + coefs[1]).astype(np.float32)
    for c in coefs[2:]:
        t = y.astype(_F64)
        t *= x64
        t += c
        y = t.astype(np.float32)
    return y


def _fma_into(a, b64, c):
    """_fma32(a, b, c) for float32 arrays a and c and b given in float64."""
    t = a.astype(_F64)
    t *= b64
    t += c
    return t.astype(np.float32)


def _log256(x):
    """avx_mathfun's log256_ps (cephes logf), with the multiply-adds GCC fuses."""
    x = np.maximum(x, _MIN_NORM)
    xi = x.view(np.int32)
    e = np.subtract(xi >> 23, 0x7e, dtype=np.float32)   # exponent - 0x7f + 1, exact in float32
    xi &= ~0x7f800000
    xi |= _HALF_BITS
    mask = x < _SQRTHF
    tmp = x.view(np.int32) & -mask.view(np.int8).astype(np.int32)   # x where mask, else +0.0
    x -= _f(1)
    e -= mask
    x += tmp.view(np.float32)
    z = x * x
    y = _horner(x.astype(_F64), _LOG_P64)
    y *= x
    z64 = z.astype(_F64)
    y = _fma_into(y, z64, e * _LOG_Q1)
    t = z64 * -0.5
    t += y
    x += t.astype(np.float32)
    t = e.astype(_F64)
    t *= _LOG_Q2_64
    t += x
    return t.astype(np.float32)


def _sincos256(x):
    """avx_mathfun's sincos256_ps (cephes sinf/cosf), with the multiply-adds GCC fuses."""
    # the selections and sign flips below as integer masks on the bits (np.where and where= ran
    # their loops without SIMD: 100 of randn(8192)'s 345 us)
    sign_sin = x.view(np.int32) & np.int32(-1 << 31)
    x = np.abs(x)
    j = (x * _FOPI).astype(np.int32)
    j += 1
    j &= ~1
    y64 = j.astype(_F64)
    t4 = j & 4
    t4 <<= 29
    sign_sin ^= t4
    sign_cos = j - 2
    np.invert(sign_cos, out=sign_cos)
    sign_cos &= 4
    sign_cos <<= 29
    poly = j & 2   # all ones where (j & 2) == 0
    poly >>= 1
    poly -= 1
    for dp in _DP64:
        t = y64 * dp
        t += x
        x = t.astype(np.float32)
    z = x * x
    z64 = z.astype(_F64)
    c = _horner(z64, _COSC64)
    c *= z
    c = _fma_into(c, z64, -(z * _f(0.5)))
    c += _f(1)
    s = _horner(z64, _SINC64)
    s *= z
    x64 = x.astype(_F64)
    t = s.astype(_F64)
    t *= x64
    t += x64
    s = t.astype(np.float32)
    sb, cb = s.view(np.int32), c.view(np.int32)
    swap = sb ^ cb
    swap &= ~poly   # s and c trade places where (j & 2) != 0
    ys, yc = sb ^ swap, cb ^ swap
    ys ^= sign_sin
    yc ^= sign_cos
    return ys.view(np.float32), yc.view(np.float32)


def _normal16_f32(u, mean, std):
    """normal_fill_16_AVX2 over consecutive blocks of 16 uniform floats (Box-Muller, 8 pairs each)."""
    b = u.reshape(-1, 16)
    radius = np.sqrt(_f(-2) * _log256(_f(1) - b[:, :8]))
    s, c = _sincos256(_f(2.0 * math.pi) * b[:, 8:])
    out = np.empty(b.shape, np.float32)
    np.multiply(radius, c, out=out[:, :8])
    np.multiply(radius, s, out=out[:, 8:])
    if std == 1 and mean == 0:
        out += _f(0)   # fmaf(v, 1, 0) is v, with -0.0 made +0.0
        return out.ravel()
    t = out.astype(_F64)
    t *= float(std)
    t += float(mean)
    return t.astype(np.float32).ravel()


def _normal16_f64(u, mean, std):
    """normal_fill_16<double>: glibc log, cos and sin, the final multiply-add fused."""
    b = u.reshape(-1, 16)
    radius = np.sqrt(-2 * _libm(math.log, 1 - b[:, :8]))
    theta = (2.0 * math.pi) * b[:, 8:]
    n1, n2 = radius * np.cos(theta), radius * np.sin(theta)
    if std != 1 or mean != 0:
        n1, n2 = _fma64(n1, std, mean), _fma64(n2, std, mean)
    return np.concatenate([n1, n2], axis=1).ravel()


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
        if self.device.type == "meta":   # (its draws are never read back)
            from ._meta import ZeroDraws
            return ZeroDraws()
        if self._xp is np:
            bits = np.random.MT19937()
            bits._legacy_seeding(seed & 0xFFFFFFFF)  # init_genrand: torch's mt19937(seed) keeps the low 32 bits
            self._bits = bits
            self._seeded_key = bits.state["state"]["key"].copy()  # to tell torch's next=0 from 624
            # host-side draws (transforms, trunc_normal_, ...) read the same Mersenne Twister stream
            return np.random.Generator(bits)
        with self._xp.cuda.Device(self.device.index):
            return self._xp.random.default_rng(seed)

    def manual_seed(self, seed):
        """Reseed; the same seed gives the same numbers."""
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64
        self._seed = seed
        self._rng = self._make(seed)
        self._next_double_normal = None  # torch's cached second Box-Muller sample (scalar path)
        self._next_float_normal = None   # kept only to round-trip torch's state layout
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
        """The generator state: on the CPU torch's own 5056-byte CPUGeneratorImplState layout (a uint8
        tensor that torch.set_rng_state also accepts)."""
        if self._xp is not np:
            raise RuntimeError(
                f"ember can't snapshot the state of a {self.device} generator (cuRAND keeps it on the "
                "GPU); reseed it with manual_seed() to reproduce a stream instead")
        from ._tensor import _wrap
        st = self._bits.state["state"]
        pos = int(st["pos"])
        buf = bytearray(_STATE_SIZE)
        # torch's mt19937 draws when --left == 0: pos 624 (twist due) is left 1, else left = 625 - next
        left, nxt = (1, 624) if pos >= 624 else (625 - pos, pos)
        if pos >= 624 and np.array_equal(st["key"], self._seeded_key):
            nxt = 0  # freshly seeded: nothing drawn yet
        struct.pack_into("<QiiQ", buf, 0, self._seed & ((1 << 64) - 1), left, 1, nxt)
        buf[24:24 + 624 * 8] = np.asarray(st["key"], np.uint32).astype("<u8").tobytes()
        dn = self._next_double_normal
        struct.pack_into("<dddi", buf, 5016, 0.0, dn if dn is not None else 0.0, 0.0, int(dn is not None))
        fn = self._next_float_normal
        struct.pack_into("<f?", buf, 5048, fn if fn is not None else 0.0, fn is not None)
        return _wrap(np.frombuffer(bytes(buf), dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state returned by get_state (ember's or torch's)."""
        if self._xp is not np:
            raise RuntimeError(f"ember can't restore the state of a {self.device} generator; use manual_seed()")
        data = new_state.numpy() if hasattr(new_state, "numpy") else np.asarray(new_state)
        if data.dtype != np.uint8:
            raise TypeError(f"expected a torch.ByteTensor as the RNG state, but got dtype {data.dtype}")
        buf = data.tobytes()
        if len(buf) not in (_STATE_SIZE, _LEGACY_STATE_SIZE):
            raise RuntimeError(
                f"Expected either a CPUGeneratorImplStateLegacy of size {_LEGACY_STATE_SIZE} or a "
                f"CPUGeneratorImplState of size {_STATE_SIZE} but found the input RNG state size to be {len(buf)}")
        seed, left, _seeded, nxt = struct.unpack_from("<QiiQ", buf, 0)
        key = np.frombuffer(buf, "<u8", 624, 24).astype(np.uint32)
        pos = 624 if left <= 1 else 625 - left
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
        self._seed = seed
        _x, y, _rho, valid = struct.unpack_from("<dddi", buf, 5016)
        self._next_double_normal = y if valid else None
        self._next_float_normal = None
        if len(buf) == _STATE_SIZE:
            f, fvalid = struct.unpack_from("<f?", buf, 5048)
            self._next_float_normal = f if fvalid else None
        return self

    # ---- the CPU stream: torch's mt19937 words and the ATen transformations -------------------
    def _u32(self, n):
        """n raw 32-bit words (torch's generator->random()), as uint64."""
        return self._bits.random_raw(n) if n else np.zeros(0, np.uint64)

    def _u64(self, n):
        """n 64-bit words (torch's random64(): the first 32-bit draw is the high half).  NumPy's
        full-range uint64 draws from the Mersenne Twister are those words, made in C: 8,192 in 35 us,
        against 48 from pairs of raw 32-bit draws."""
        if not n:
            return np.zeros(0, np.uint64)
        return self._rng.integers(0, 1 << 64, size=n, dtype=np.uint64)

    def _unit(self, n, dtype):
        """torch's uniform_real(0, 1) values: 24 bits of random() for float (and for half, which torch
        draws as float and rounds), 53 of random64() for double."""
        if dtype == _F64:
            return (self._u64(n) & _M53).astype(np.float64) * (2.0 ** -53)
        return (self._u32(n) & np.uint64((1 << 24) - 1)).astype(np.float32) * np.float32(2.0 ** -24)

    def _normal_doubles(self, n):
        """n samples of torch's scalar normal_distribution<double>: Box-Muller pairs (cos first, the
        sin one cached in the generator for the next call)."""
        out = np.empty(n, np.float64)
        i = 0
        if n and self._next_double_normal is not None:
            out[0] = self._next_double_normal
            self._next_double_normal = None
            i = 1
        m = n - i
        if m:
            pairs = (m + 1) // 2
            u = self._unit(2 * pairs, _F64).reshape(pairs, 2)
            r = np.sqrt(-2.0 * _libm(math.log1p, -u[:, 1]))
            theta = (2.0 * math.pi) * u[:, 0]
            vals = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).ravel()
            out[i:] = vals[:m]
            if m % 2:
                self._next_double_normal = float(vals[-1])
        return out

    def _cpu_normal(self, mean, std, shape, dtype, contiguous=True, out=None):
        n = math.prod(shape)
        if n >= 16 and contiguous and dtype in _NORMAL_FILL:
            # normal_fill: n uniforms, Box-Muller on each block of 16, the last 16 redrawn if n % 16
            wide = dtype == _F64
            kernel, m, s = ((_normal16_f64, float(mean), float(std)) if wide
                            else (_normal16_f32, np.float32(mean), np.float32(std)))
            udt = _F64 if wide else _F32
            if out is None:
                out = np.empty(n, dtype)   # (half: torch's float32 values, rounded)
            k = n // 16 * 16
            for a, b in _chunks(k):
                u = self._unit(b - a, udt)
                if b == k and n > k:
                    # the last 16 values come from 16 fresh uniforms.  Before them torch has drawn the
                    # tail's n - k uniforms too, except for half, which draws only the full blocks'
                    skip = 0 if dtype == _F16 else n - k
                    # (through the same kernel call as the last chunk: randn(1000) 190 -> ~125 us)
                    vals = kernel(np.concatenate([u, self._unit(skip + 16, udt)[skip:]]), m, s)
                    out[a:b] = vals[:b - a]
                    out[n - 16:] = vals[b - a:]
                else:
                    out[a:b] = kernel(u, m, s)
            return out.reshape(shape)
        vals = self._normal_doubles(n)
        if std != 1 or mean != 0:
            vals = _fma64(vals, float(std), float(mean))
        if dtype == _F16:   # torch's Half is made from a float: the double is rounded twice
            vals = vals.astype(_F32)
        if out is not None:
            out[...] = vals
            return out.reshape(shape)
        return vals.astype(dtype).reshape(shape)

    def random_full(self, shape, dtype):
        """torch's random_() without bounds: [0, 2**mantissa] for floats, [0, max] for integers."""
        dtype = np.dtype(dtype)
        n = math.prod(shape)
        if dtype == np.bool_:
            return (self._u32(n) & np.uint64(1)).astype(np.bool_).reshape(shape)
        if dtype == _F64:
            v = self._u64(n) % np.uint64((1 << 53) + 1)
        elif dtype == np.int64:
            v = self._u64(n) % np.uint64(1 << 63)
        elif dtype.kind == "f":
            v = self._u32(n) % np.uint64((1 << (np.finfo(dtype).nmant + 1)) + 1)
        else:
            v = self._u32(n) % np.uint64(int(np.iinfo(dtype).max) + 1)
        return v.astype(dtype).reshape(shape)

    # ---- draws: arrays on this generator's device -----------------------------------------------
    def _on_device(self):
        if self._xp is np or self.device.type == "meta":
            return B._NULL
        return self._xp.cuda.Device(self.device.index)

    def random(self, shape, dtype=np.float64, out=None):
        """Uniform floats in [0, 1) (torch's rand on the CPU).  out: a flat C-contiguous host array of
        shape's size and dtype to write them into (the fills of huge tensors then need no array of
        their own size), ignored on a GPU."""
        if self._xp is np:
            dtype = np.dtype(dtype)
            if dtype in _NATIVE_FLOATS:
                shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
                n = math.prod(shape)
                if n <= _CHUNK and out is None:
                    return self._unit(n, dtype).reshape(shape)
                if out is None:
                    out = np.empty(n, dtype)
                for a, b in _chunks(n):
                    out[a:b] = self._unit(b - a, dtype)
                return out.reshape(shape)
        return self.uniform(0.0, 1.0, shape, dtype, out)

    def bernoulli_mask(self, shape, p):
        """Booleans true with probability p (dropout's keep mask): torch's bernoulli_(p) on the CPU,
        one uniform double per element (53 bits of random64()) compared with p, element for element.
        (torch builds for Intel CPUs with MKL draw these from MKL's MCG31 stream instead.)"""
        if self._xp is np:
            # u * 2**-53 < p exactly when the integer u < ceil(p * 2**53) (p * 2**53 is exact)
            return ((self._u64(math.prod(shape)) & _M53) < np.uint64(math.ceil(p * 2.0 ** 53))).reshape(shape)
        return self.random(shape, np.float32) < p

    def standard_normal(self, shape, dtype=np.float64):
        """Standard normal floats."""
        return self.normal(0.0, 1.0, shape, dtype)

    def normal(self, mean, std, shape, dtype=np.float64, contiguous=True, out=None):
        """Normal floats (torch's normal_ on the CPU; standard_normal * std + mean on a GPU); out as
        in random."""
        dtype = np.dtype(dtype)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        if self._xp is np:
            return self._cpu_normal(mean, std, shape, dtype, contiguous, out)
        with self._on_device():
            if dtype in _NATIVE_FLOATS:
                out = self._rng.standard_normal(shape, dtype=dtype)
            else:
                out = self._rng.standard_normal(shape).astype(dtype)
        if self.device.type == "meta":   # (no values to scale: left untouched, a meta model costs no memory)
            return out
        if std != 1:
            out *= std
        if mean != 0:
            out += mean
        return out

    def uniform(self, low, high, shape, dtype=np.float64, out=None):
        """Uniform floats in [low, high) (torch's uniform_: x * (to - from) + from, fused); out as in
        random."""
        dtype = np.dtype(dtype)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        if self._xp is np:
            n = math.prod(shape)
            if out is None:
                out = np.empty(n, dtype)
            if dtype == _F64:
                for a, b in _chunks(n):
                    x = self._unit(b - a, dtype)
                    out[a:b] = _fma64(x, float(high) - float(low), float(low)) if low != 0 or high != 1 else x
                return out.reshape(shape)
            lo, hi = np.float32(low), np.float32(high)
            for a, b in _chunks(n):
                x = self._unit(b - a, _F32)
                out[a:b] = _fma32(x, hi - lo, lo) if lo != 0 or hi != 1 else x
            if dtype == np.float16:   # a draw that rounds up to `high` becomes `low`: torch keeps [low, high)
                out[out == dtype.type(high)] = dtype.type(low)
            return out.reshape(shape)
        with self._on_device():
            if dtype in _NATIVE_FLOATS:
                out = self._rng.random(shape, dtype=dtype)
            else:
                out = self._rng.random(shape).astype(dtype)
        if self.device.type == "meta":
            return out
        if high - low != 1:
            out *= high - low
        if low != 0:
            out += low
        return out

    def integers(self, low, high, shape, dtype=np.int64):
        """Uniform integers in [low, high) (torch's random_from_to: word % range + from; 64-bit words
        when the range needs them and the dtype holds them)."""
        dtype = np.dtype(dtype)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        if self._xp is np:
            n = math.prod(shape)
            span = int(high) - int(low)
            wide = span >= 1 << 32 and dtype in (np.dtype(np.int64), _F64, _F32)
            v = (self._u64(n) if wide else self._u32(n)) % np.uint64(span)
            v = (v + np.uint64(int(low) & ((1 << 64) - 1))).view(np.int64)
            return v.astype(dtype, copy=False).reshape(shape)
        with self._on_device():
            if dtype.kind in "iu":
                return self._rng.integers(low, high, size=shape, dtype=dtype)
            return self._rng.integers(low, high, size=shape, dtype=np.int64).astype(dtype)

    def exponential(self, scale, shape, dtype=np.float64, lambd=None):
        """Exponential floats with the given scale (1 / rate); torch's -1/lambd * log1p(-u) on the CPU."""
        dtype = np.dtype(dtype)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
        if self._xp is np:
            lambd = 1.0 / scale if lambd is None else float(lambd)
            u = self._unit(math.prod(shape), _F64)
            return ((-1.0 / lambd) * _libm(math.log1p, -u)).astype(dtype).reshape(shape)
        with self._on_device():
            if dtype in _NATIVE_FLOATS:
                out = self._rng.standard_exponential(shape, dtype=dtype)
            else:
                out = self._rng.standard_exponential(shape).astype(dtype)
        if self.device.type == "meta":
            return out
        if scale != 1:
            out *= scale
        return out

    def gamma_doubles(self, alphas):
        """Gamma(alpha, 1) draws for each alpha (a float array), as float64: torch's CPU sample_gamma
        (Marsaglia and Tsang in double, uniform_real<double> and normal_distribution<double> drawn
        from this stream), element by element in order, as its serial kernel runs."""
        alphas = np.asarray(alphas)
        single = alphas.dtype != _F64   # the sampler's alpha is the tensor's scalar type
        out = np.empty(alphas.shape, np.float64)
        flat = out.reshape(-1)
        for i, a in enumerate(alphas.reshape(-1).tolist()):
            flat[i] = self._gamma_one(a, single)
        return out

    def _gamma_one(self, alpha, single):
        scale = 1.0
        if alpha < 1.0:
            if alpha == 0.0:
                return 0.0
            if single:   # 1.0f / alpha and alpha += 1.0f in float, as the C++ template computes them
                exponent = float(np.float32(1.0) / np.float32(alpha))
                alpha = float(np.float32(alpha) + np.float32(1.0))
            else:
                exponent = 1.0 / alpha
                alpha += 1.0
            scale *= math.pow(1.0 - float(self._unit(1, _F64)[0]), exponent)
        d = float(np.float32(alpha) - np.float32(_GAMMA_THIRD)) if single else alpha - _GAMMA_THIRD
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            while True:
                x = float(self._normal_doubles(1)[0])
                y = 1.0 + c * x
                if y > 0:
                    break
            v = y * y * y
            u = 1.0 - float(self._unit(1, _F64)[0])
            xx = x * x
            if u < 1.0 - _GAMMA_SQUEEZE * xx * xx:
                return scale * d * v
            if math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
                return scale * d * v

    # ---- torch's serial CPU samplers (ATen Distributions.h / DistributionTemplates.h), element by element ----
    def _u1(self):
        return float(self._unit(1, _F64)[0])

    def cauchy(self, median, sigma, shape, dtype):
        """median + sigma * tan(pi * (u - 0.5)), one uniform double per element (torch's cauchy_)."""
        n = math.prod(shape)
        if self._xp is np:
            u = self._unit(n, _F64)
            return (median + sigma * _libm(math.tan, math.pi * (u - 0.5))).astype(dtype).reshape(shape)
        u = self.random(shape, np.float64)
        return (median + sigma * self._xp.tan(math.pi * (u - 0.5))).astype(dtype)

    def log_normal(self, mean, std, shape, dtype):
        """exp(normal(mean, std)) with torch's scalar normal_distribution<double> (torch's log_normal_)."""
        n = math.prod(shape)
        if self._xp is np:
            z = _fma64(self._normal_doubles(n), float(std), float(mean))
            return _libm(math.exp, z).astype(dtype).reshape(shape)
        return self._xp.exp(self.normal(mean, std, shape, np.float64)).astype(dtype)

    def geometric(self, p, shape, dtype):
        """ceil(log(u) / log1p(-p)): trials up to the first success (torch's geometric_)."""
        n = math.prod(shape)
        if self._xp is np:
            return np.ceil(_libm(math.log, self._unit(n, _F64)) / math.log1p(-p)).astype(dtype).reshape(shape)
        u = self.random(shape, np.float64)
        return self._xp.ceil(self._xp.log(u) / math.log1p(-p)).astype(dtype)

    def poisson(self, rates):
        """Poisson draws for each rate (a host float array), as float64: torch's CPU sample_poisson
        (Hoermann's transformed rejection from 10 up, products of uniforms below)."""
        out = np.empty(rates.shape, np.float64)
        flat = out.reshape(-1)
        for i, lam in enumerate(rates.reshape(-1).tolist()):
            flat[i] = self._poisson_one(lam)
        return out

    def _poisson_one(self, lam):
        if lam >= 10:
            slam, loglam = math.sqrt(lam), math.log(lam)
            b = 0.931 + 2.53 * slam
            a = -0.059 + 0.02483 * b
            invalpha = 1.1239 + 1.1328 / (b - 3.4)
            vr = 0.9277 - 3.6224 / (b - 2)
            while True:
                u = self._u1() - 0.5
                v = self._u1()
                us = 0.5 - abs(u)
                k = math.floor((2 * a / us + b) * u + lam + 0.43)
                if us >= 0.07 and v <= vr:
                    return k
                if k < 0 or (us < 0.013 and v > us):
                    continue
                if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= \
                        -lam + k * loglam - math.lgamma(k + 1.0):
                    return k
        if lam == 0:
            return 0
        if not lam > 0:
            raise RuntimeError(f"poisson: invalid Poisson rate {lam}, expected rate to be non-negative")
        enlam, x, prod = math.exp(-lam), 0, 1.0
        while True:
            prod *= self._u1()
            if prod > enlam:
                x += 1
            else:
                return x

    def binomial(self, counts, probs):
        """Binomial draws for each (count, prob) (host arrays of one float dtype), as float64: torch's CPU
        sample_binomial (BTRS from count * prob >= 10, inversion below), in the tensors' scalar type."""
        f = np.float32 if counts.dtype != _F64 else np.float64
        out = np.empty(counts.shape, np.float64)
        flat = out.reshape(-1)
        for i, (c, p) in enumerate(zip(counts.reshape(-1).tolist(), probs.reshape(-1).tolist())):
            flat[i] = self._binomial_one(float(f(c)), float(f(p)), f)
        return out

    def _binomial_one(self, count, prob, f):
        if count <= 0.0 or prob <= 0.0:
            return 0.0
        if prob >= 1.0:
            return count
        if prob <= 0.5:
            return self._btrs(count, prob, f) if float(f(count * prob)) >= 10 else self._inversion(count, prob)
        q = float(f(1 - prob))
        return count - (self._btrs(count, q, f) if float(f(count * q)) >= 10 else self._inversion(count, q))

    def _inversion(self, count, prob):
        geom_sum, num, logprob = 0.0, 0.0, math.log1p(-prob)
        while True:
            geom_sum += math.ceil(math.log(self._u1()) / logprob)
            if geom_sum > count:
                return num
            num += 1

    def _btrs(self, count, prob, f):
        # (count * prob * (1 - prob) is computed in the tensor's type before the double sqrt)
        stddev = math.sqrt(float(f(f(count * prob) * f(1 - prob))))
        b = 1.15 + 2.53 * stddev
        a = -0.0873 + 0.0248 * b + 0.01 * prob
        c = count * prob + 0.5
        v_r = 0.92 - 4.2 / b
        r = prob / (1 - prob)
        alpha = (2.83 + 5.1 / b) * stddev
        m = math.floor((count + 1) * prob)
        while True:
            u = self._u1() - 0.5
            v = self._u1()
            us = 0.5 - abs(u)
            k = float(f(math.floor((2 * a / us + b) * u + c)))
            if k < 0 or k > count:
                continue
            if us >= 0.07 and v <= v_r:
                return k
            v = math.log(v * alpha / (a / (us * us) + b))
            bound = ((m + 0.5) * math.log((m + 1) / (r * (count - m + 1))) +
                     (count + 1) * math.log((count - m + 1) / (count - k + 1)) +
                     (k + 0.5) * math.log(r * (count - k + 1) / (k + 1)) +
                     _stirling_tail(m) + _stirling_tail(count - m) - _stirling_tail(k) - _stirling_tail(count - k))
            if v <= bound:
                return k

    def permutation(self, n):
        """A random permutation of 0..n-1 (int64): torch's randperm_cpu on the CPU (a forward
        Fisher-Yates: swap i with i + random() % (n - i)), argsort of uniforms on a GPU."""
        if self._xp is np:
            n = int(n)
            if n >= (2 ** 32 - 1) // 20:
                # torch's large-n variant: inside-out Fisher-Yates on random64()
                z = (self._u64(n) % (np.arange(n, dtype=np.uint64) + np.uint64(1))).tolist()
                r = [0] * n
                for i, j in enumerate(z):
                    r[i] = r[j]
                    r[j] = i
                return np.array(r, np.int64)
            if n < 2:
                return np.arange(n, dtype=np.int64)
            i = np.arange(n - 1, dtype=np.uint64)
            z = (self._u32(n - 1) % (np.uint64(n) - i) + i).tolist()
            r = list(range(n))
            for i, j in enumerate(z):
                r[i], r[j] = r[j], r[i]
            return np.array(r, np.int64)
        return self._xp.argsort(self.random((n,)), kind="stable").astype(np.int64, copy=False)

    def multinomial(self, probs, num_samples, replacement):
        """num_samples category indices per row of probs (rows x k, non-negative), as int64; on the
        CPU torch's draws: the Exp(1) race (argmax/topk of p / q) without replacement or for one
        sample, else per row the float cumulative sums searched with uniform doubles."""
        xp = self._xp
        rows, k = probs.shape
        if xp is np:
            if not replacement or num_samples == 1:
                q = self.exponential(1.0, probs.shape, probs.dtype)
                np.divide(probs, q, out=q)
                if num_samples == 1:
                    return q.argmax(axis=1)[:, None].astype(np.int64)
                if k >= 64 and num_samples * 8 <= k:   # the k largest from a partition (as topk)
                    from .ops.reduce import _stable_ties, _top_k_partitioned
                    return _stable_ties(q, _top_k_partitioned(q, 1, num_samples, True), 1, num_samples, True)
                return np.argsort(-q, axis=1, kind="stable")[:, :num_samples].astype(np.int64)
            acc = np.float64 if probs.dtype == _F64 else np.float32   # float accumulates half
            u = self._unit(rows * num_samples, _F64).reshape(rows, num_samples)
            out = np.empty((rows, num_samples), np.int64)
            for r in range(rows):
                cum = np.cumsum(probs[r], dtype=acc)   # sequential, as torch's loop
                cum /= cum[-1]
                cum[-1] = 1
                out[r] = np.searchsorted(cum, u[r], side="left")
            return out
        probs = probs.astype(np.float64)
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


# sample_gamma's float literals (1.0f / 3.0f, 0.0331f), widened to double as torch's C++ does
_GAMMA_THIRD = float(np.float32(1.0) / np.float32(3.0))
_GAMMA_SQUEEZE = float(np.float32(0.0331))

default_generator = Generator()
_cuda_generators = {}  # device index -> Generator, created on first use
_meta_generators = []


_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509,
                  0.0166446911898211, 0.0138761288230707, 0.0118967099458917, 0.0104112652619720,
                  0.00925546218271273, 0.00833056343336287)


def _stirling_tail(k):
    """log k! minus its Stirling approximation (torch's stirling_approx_tail)."""
    if k <= 9:
        return _STIRLING_TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _meta_generator():
    """The meta device's generator (torch has none: its draws make no values, and leave the CPU's stream alone)."""
    if not _meta_generators:
        _meta_generators.append(Generator("meta"))
    return _meta_generators[0]


def _cuda_generator(index):
    g = _cuda_generators.get(index)
    if g is None:
        g = _cuda_generators[index] = Generator(B.device("cuda", index))
    return g


# torch.func.vmap's randomness mode, innermost last: under 'error' every random op refuses to run
_vmap_randomness = []


def _vmap_random_error():
    raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use the "
                       "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
                       "of vmap")


def generator_for(device, generator=None):
    """The generator an op on device draws from: the one passed (checked), else the device's default."""
    if _vmap_randomness and _vmap_randomness[-1] == "error":
        _vmap_random_error()
    if generator is not None:
        if generator.device.type != device.type:
            raise RuntimeError(f"Expected a '{device.type}' device type for generator but found "
                               f"'{generator.device.type}'")
        return generator
    if device.type == "cpu":
        return default_generator
    if device.type == "meta":
        return _meta_generator()
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


_fork_rng_warned_already = False


def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """A context manager that restores the CPU (and the listed GPUs') RNG state on exit."""
    import contextlib
    import warnings

    @contextlib.contextmanager
    def forked():
        global _fork_rng_warned_already
        if device_type == "meta" or not enabled:
            yield
            return
        kind = device_type
        if kind is None:
            from . import accelerator
            acc = accelerator.current_accelerator()
            kind = acc.type if acc is not None else "cuda"  # the CPU state is always forked
        if kind != "cuda":
            raise RuntimeError(f"torch has no module of `{kind}`, you should register a module by "
                               "`torch._register_device_module`.")
        from . import cuda
        if devices is None:
            n = cuda.device_count()
            if n > 1 and not _fork_rng_warned_already:
                warnings.warn(f"CUDA reports that you have {n} available devices, and you have used {_caller} "
                              f"without explicitly specifying which devices are being used. For safety, we "
                              f"initialize *every* CUDA device by default, which can be quite slow if you have "
                              f"a lot of CUDAs. If you know that you are only making use of a few CUDA devices, "
                              f"set the environment variable CUDA_VISIBLE_DEVICES or the '{_devices_kw}' keyword "
                              f"argument of {_caller} with the set of devices you are actually using. To "
                              f"initialize all devices and suppress this warning, set the '{_devices_kw}' keyword "
                              f"argument to `range(torch.cuda.device_count())`.", stacklevel=3)
                _fork_rng_warned_already = True
            devs = list(range(n))
        else:
            devs = list(devices)  # a generator would be exhausted after the first pass
        cpu_state = get_rng_state()
        dev_states = [cuda.get_rng_state(d) for d in devs]
        try:
            yield
        finally:
            set_rng_state(cpu_state)
            for d, s in zip(devs, dev_states):
                cuda.set_rng_state(s, d)

    return forked()


def thread_safe_generator():
    """The worker's own Generator inside a DataLoader thread worker; None elsewhere (ember has only process workers)."""
    return None
