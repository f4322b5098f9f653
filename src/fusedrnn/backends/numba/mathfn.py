"""exp, sigmoid and tanh for float32 and float64 as branch-free arithmetic that LLVM vectorises.

numba calls libm's scalar expf/tanhf (no SVML here): ~40 ns each, which made the gate pass
cost more than the products. These are Cephes-style: exp(x) = 2^n * p(r), r = x - n ln2,
|r| <= ln2/2, 2^n built from its bits; within a few ulp of libm (tested in the numba tests).
NaN and +-Inf propagate as in libm. Edges that cannot matter inside sigmoid and tanh: exp
overflows to inf from 88.7 (float64: 709) instead of 88.72 (709.78), and gives 0 where libm
would give a subnormal.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .common import FASTMATH

# The backend's flags minus reassociation (it would undo the two-constant range reduction
# x - n*C1 - n*C2) and the approximations that serve libm calls these functions replace.
_OWN_FLAGS = FASTMATH - {"reassoc", "afn", "arcp"}


@intrinsic
def _f32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the low 32 bits of the integer ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        value = args[0]
        if bits.bitwidth > 32:
            value = builder.trunc(value, ir.IntType(32))
        return builder.bitcast(value, ir.FloatType())

    return types.float32(bits), codegen


@intrinsic
def _f64_from_bits(typingctx, bits):
    """The float64 whose IEEE bits are the integer ``bits`` (64-bit)."""
    if not isinstance(bits, types.Integer) or bits.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(bits), codegen


def exp(x):
    """e**x for a float32 or float64 scalar, in its own precision (jitted code only)."""
    raise NotImplementedError("fusedrnn.backends.numba.mathfn.exp runs inside @njit code only")


@overload(exp, jit_options={"fastmath": set(_OWN_FLAGS), "error_model": "numpy"})
def _exp_overload(x):
    if x == types.float32:

        def exp_f32(x):
            # Cephes expf: |error| <= ~1 ulp on [-87.3, 88.7]
            xc = min(max(x, np.float32(-87.3)), np.float32(88.7))
            n = np.floor(xc * np.float32(1.44269504088896341) + np.float32(0.5))
            r = xc - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)
            p = np.float32(1.9875691500e-4)
            p = p * r + np.float32(1.3981999507e-3)
            p = p * r + np.float32(8.3334519073e-3)
            p = p * r + np.float32(4.1665795894e-2)
            p = p * r + np.float32(1.6666665459e-1)
            p = p * r + np.float32(5.0000001201e-1)
            p = p * (r * r) + r + np.float32(1.0)
            # 2^n = 2^(n-1) * 2 keeps n = 128 (x near 88.7) inside the exponent range
            k = np.int32(n) + np.int32(126)
            y = p * _f32_from_bits(k << np.int32(23)) * np.float32(2.0)
            y = np.float32(np.inf) if x > np.float32(88.7) else y
            y = np.float32(0.0) if x < np.float32(-87.3) else y
            return x if x != x else y

        return exp_f32
    if x == types.float64:

        def exp_f64(x):
            # Taylor to r**12 on |r| <= ln2/2: truncation below 2e-16 relative
            xc = min(max(x, -708.0), 709.0)
            n = np.floor(xc * 1.4426950408889634 + 0.5)
            r = xc - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6
            p = 1.0 / 479001600.0
            p = p * r + 1.0 / 39916800.0
            p = p * r + 1.0 / 3628800.0
            p = p * r + 1.0 / 362880.0
            p = p * r + 1.0 / 40320.0
            p = p * r + 1.0 / 5040.0
            p = p * r + 1.0 / 720.0
            p = p * r + 1.0 / 120.0
            p = p * r + 1.0 / 24.0
            p = p * r + 1.0 / 6.0
            p = p * r + 0.5
            p = p * (r * r) + r + 1.0
            k = np.int64(n) + np.int64(1022)
            y = p * _f64_from_bits(k << np.int64(52)) * 2.0
            y = np.inf if x > 709.0 else y
            y = 0.0 if x < -708.0 else y
            return x if x != x else y

        return exp_f64
    return None


def sigmoid(a):
    """1 / (1 + exp(-a)) in a's precision (jitted code only); exactly 0 where exp(-a) overflows."""
    raise NotImplementedError("fusedrnn.backends.numba.mathfn.sigmoid runs inside @njit code only")


def tanh(a):
    """tanh(a) in a's precision (jitted code only)."""
    raise NotImplementedError("fusedrnn.backends.numba.mathfn.tanh runs inside @njit code only")


def _typed(a):
    """The NumPy scalar type of a numba float type, or None for anything else."""
    return {types.float32: np.float32, types.float64: np.float64}.get(a)


@overload(sigmoid, jit_options={"fastmath": set(_OWN_FLAGS), "error_model": "numpy"})
def _sigmoid_overload(a):
    F = _typed(a)
    if F is None:
        return None
    one = F(1)

    def sigmoid_impl(a):
        return one / (one + exp(-a))

    return sigmoid_impl


@overload(tanh, jit_options={"fastmath": set(_OWN_FLAGS), "error_model": "numpy"})
def _tanh_overload(a):
    F = _typed(a)
    if F is None:
        return None
    one, zero, near = F(1), F(0), F(0.0625)
    c3, c5, c7, c9 = F(-1 / 3), F(2 / 15), F(-17 / 315), F(62 / 2835)

    def tanh_impl(a):
        # sign(a) (1 - e) / (1 + e) with e = exp(-2|a|); near 0, where 1 - e cancels, the
        # Taylor series to a^9 (next term < 1e-14 relative for |a| < 1/16).
        s = abs(a)
        e = exp(-(s + s))
        big = (one - e) / (one + e)
        big = big if a >= zero else -big
        a2 = a * a
        small = a + a * a2 * (c3 + a2 * (c5 + a2 * (c7 + a2 * c9)))
        return small if s < near else big

    return tanh_impl
