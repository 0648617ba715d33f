#!/usr/bin/python3
"""ref_imatrix.py — independent numpy reference of importance-weighted quantization ("imatrix",
docs/IMATRIX.md) as llama.cpp's llama-quantize --imatrix does it for Q4_0 (symmetric) and Q4_1
(asymmetric, adapted to an integer zero point: _fit_asym).

Written from llama.cpp ggml/src/ggml-quants.c (quantize_row_q4_0_impl, make_qx_quants with
rmse_type 1 and quant weights; quantize_row_q4_1_impl, make_qkx3_quants) and docs/IMATRIX.md,
not from harness/quant/imatrix.c. Per output row of W (R, C):
  sigma2  = (sum over the WHOLE row of w^2) / C           (float32, summed left to right)
  weight  = imp[j] * sqrt(sigma2 + w_j^2)                 imp[j] = calibration mean of x_j^2
Per group of g input channels (g = -1: the whole row; a shorter last group when g does not
divide C), nmax = 2^(b-1), levels l in [-nmax, nmax - 1]:
  max     = the group's value of largest |w| (first one on ties); amax < 1e-15: all-zero group
  for iscale in -nmax/max, then -(nmax + 0.1 is)/max for is = -9..9, is != 0:
      l_j = clamp(rint(iscale * w_j), -nmax, nmax - 1)
      sumlx = sum weight_j w_j l_j, suml2 = sum weight_j l_j^2     (float32, left to right)
  the first candidate sets scale = sumlx / suml2 (0 when suml2 == 0), best = scale * sumlx;
  a later one replaces it when suml2 > 0 and sumlx^2 > best * suml2 (the weighted error
  sum weight (w - scale l)^2 = sum weight w^2 - sumlx^2 / suml2 is smaller).
Symmetric layout: code = l + nmax (unsigned), zero = nmax, w_hat = (code - zero) * scale. The
scale is negative when the largest-|w| value is positive (llama.cpp's d = max / -nmax side of
the grid). A group whose scale ends 0 (all-zero, or every weight 0) stores the zero point.
imp None means all ones. Every operation is float32 in the order llama.cpp writes it (products
left to right, no fused multiply-add, sequential sums via np.add.accumulate), so the C kernel
can be compared code for code.

Usage: imported by tools/make-imatrix-fixtures; `/usr/bin/python3 tools/ref_imatrix.py selftest`
checks the hand-computable case of tests/unit/test_imatrix.c.
"""
import sys

import numpy as np

F = np.float32
GROUP_MAX_EPS = F(1e-15)     # llama.cpp: below this amax a group is all zero


def importance(x):
    """x (N, In) calibration inputs of a linear -> imp (In,) float32: mean of x^2, summed in
    float64 (what llama-imatrix accumulates: sum of x^2 over tokens / token count)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
    return (np.square(x).sum(0) / x.shape[0]).astype(F)


def _seqsum(a):
    """Left-to-right float32 sum along the last axis (C's `s += a[i]` loop)."""
    return np.add.accumulate(a, axis=-1, dtype=F)[..., -1]


def _levels(iscale, w, nmax):
    """l = clamp(rint(iscale * w), -nmax, nmax - 1) as float32; iscale (R, G, 1), w (R, G, n).
    + 0 makes rint's -0.0 a +0.0: llama.cpp's levels are ints."""
    return np.clip(np.rint(iscale * w) + F(0), F(-nmax), F(nmax - 1)).astype(F)


def _sums(iscale, w, wt, nmax):
    l = _levels(iscale, w, nmax)
    return _seqsum(wt * w * l), _seqsum(wt * l * l)


def _fit(w, wt, nmax):
    """w, wt (R, G, n) float32 -> (scale (R, G), iscale (R, G)) of make_qx_quants."""
    a = np.abs(w)
    mx = np.take_along_axis(w, np.argmax(a, axis=-1)[..., None], axis=-1)[..., 0]
    zero_grp = a.max(axis=-1) < GROUP_MAX_EPS
    mx = np.where(zero_grp, F(1), mx)                    # no division by 0; masked at the end
    iscale = (F(-nmax) / mx).astype(F)
    sumlx, suml2 = _sums(iscale[..., None], w, wt, nmax)
    scale = np.where(suml2 != 0, sumlx / np.where(suml2 != 0, suml2, F(1)), F(0)).astype(F)
    best = (scale * sumlx).astype(F)
    for k in [i for i in range(-9, 10) if i != 0]:
        cand = (-(F(nmax) + F(0.1) * F(k)) / mx).astype(F)
        slx, sl2 = _sums(cand[..., None], w, wt, nmax)
        take = (sl2 > 0) & (slx * slx > best * sl2)
        safe = np.where(sl2 > 0, sl2, F(1))
        scale = np.where(take, slx / safe, scale).astype(F)
        best = np.where(take, (slx / safe) * slx, best).astype(F)
        iscale = np.where(take, cand, iscale)
    scale = np.where(zero_grp, F(0), scale)
    return scale, iscale


def _codes_sym(w, wt, bits):
    """Symmetric block: (codes (R, G, n), scale (R, G), zero (R, G)); zero = nmax."""
    nmax = 2 ** (bits - 1)
    s, i = _fit(w, wt, nmax)
    code = _levels(i[..., None], w, nmax) + F(nmax)
    code[s == 0] = nmax
    return code, s, np.full(s.shape, F(nmax))


def _code1(w, s, z, maxq):
    """code = clamp(rint(w / s) + z, 0, maxq), the harness's asymmetric rounding (quant.h);
    s == 0 gives z. s, z (R, G, 1)."""
    safe = np.where(s == 0, F(1), s)
    c = np.clip(np.rint(w / safe) + z, F(0), F(maxq)) + F(0)
    return np.where(s == 0, z, c).astype(F)


def _err(w, wt, s, z, maxq):
    """Weighted squared error sum wt ((code - z) s - w)^2 (left to right), s, z (R, G)."""
    s, z = s[..., None], z[..., None]
    d = (_code1(w, s, z, maxq) - z) * s - w
    return _seqsum(wt * (d * d))


def _fit_asym(w, wt, bits):
    """make_qkx3_quants(n, 2^b - 1, w, weight, .., rmin -0.9, rdelta 0.05, nstep 36, no mad) as
    quantize_row_q4_1_impl calls it, adapted to an integer zero point (docs/IMATRIX.md):
    each candidate's free least-squares (scale, min) gives z = clamp(rint(-min / scale)), the
    scale is refitted for that z, and the error is measured with the codes rounded under
    (scale, z); the first candidate is scale = (max - min) / maxq with its rounded zero."""
    maxq = 2 ** bits - 1
    mn = np.minimum(w.min(axis=-1), F(0))
    mx = w.max(axis=-1)
    const = mx <= mn
    sum_w, sum_x = _seqsum(wt), _seqsum(wt * w)
    rng = np.where(const, F(1), mx - mn)
    s = (F(1) / (F(maxq) / rng)).astype(F)
    z = np.clip(np.rint(-mn / s), F(0), F(maxq)) + F(0)
    best = _err(w, wt, s, z, maxq)
    for k in range(37):
        cur_min = -z * s
        iscale = ((F(-0.9) + F(0.05) * F(k) + F(maxq)) / (mx - cur_min)).astype(F)
        v = iscale[..., None] * (w - cur_min[..., None])
        l = np.where(v > 0, np.rint(np.minimum(v, F(maxq))), F(0)).astype(F)
        sum_l, sum_l2, sum_xl = _seqsum(wt * l), _seqsum(wt * l * l), _seqsum(wt * l * w)
        D = sum_w * sum_l2 - sum_l * sum_l
        okD = (D > 0) & ~const
        Ds = np.where(okD, D, F(1))
        ts = (sum_w * sum_xl - sum_x * sum_l) / Ds
        tm = (sum_l2 * sum_x - sum_l * sum_xl) / Ds
        pos = tm > 0
        ts = np.where(pos, sum_xl / np.where(sum_l2 != 0, sum_l2, F(1)), ts)
        tm = np.where(pos, F(0), tm)
        ok = okD & (ts > 0)
        tz = np.clip(np.rint(-tm / np.where(ok, ts, F(1))), F(0), F(maxq)) + F(0)
        num = sum_xl - tz * sum_x
        den = sum_l2 - F(2) * tz * sum_l + tz * tz * sum_w
        ok &= (den > 0) & (num > 0)
        rs = (num / np.where(ok, den, F(1))).astype(F)
        e = _err(w, wt, np.where(ok, rs, s), np.where(ok, tz, z), maxq)
        take = ok & (e < best)
        s, z, best = np.where(take, rs, s), np.where(take, tz, z), np.where(take, e, best)
    # a constant group c <= 0 (max <= min): c exactly as (0 - 1) * -c; c == 0: scale 0
    s = np.where(const, np.where(mn < 0, -mn, F(0)), s).astype(F)
    z = np.where(const, np.where(mn < 0, F(1), F(0)), z).astype(F)
    return _code1(w, s[..., None], z[..., None], maxq), s, z


def quantize(W, imp, bits, group, sym=True):
    """W (R, C), imp (C,) or None -> codes (R, C) uint8, scale (R, G), zero (R, G) float32.
    sym: make_qx_quants (zero = 2^(b-1)); else the adapted make_qkx3_quants."""
    W = np.ascontiguousarray(W, dtype=F)
    R, C = W.shape
    imp = np.ones(C, F) if imp is None else np.asarray(imp, dtype=F)
    sigma2 = (_seqsum(W * W) / F(C)).astype(F)
    wt = (imp[None, :] * np.sqrt(sigma2[:, None] + W * W)).astype(F)
    g = C if group == -1 or group > C else group
    full = C // g * g
    codes, scales, zeros = np.empty((R, C), np.uint8), [], []
    for c0, c1, n in ((0, full, g), (full, C, C - full)):    # full groups, then a short tail
        if c1 == c0:
            continue
        w, wg = W[:, c0:c1].reshape(R, -1, n), wt[:, c0:c1].reshape(R, -1, n)
        code, s, z = (_codes_sym if sym else _fit_asym)(w, wg, bits)
        codes[:, c0:c1] = code.astype(np.uint8).reshape(R, c1 - c0)
        scales.append(s)
        zeros.append(z)
    return codes, np.concatenate(scales, axis=1), np.concatenate(zeros, axis=1)


def dequant(codes, scale, zero, group):
    """w_hat = (code - zero) * scale per group, float32."""
    R, C = codes.shape
    g = C if group == -1 or group > C else group
    s = np.repeat(scale, g, axis=1)[:, :C]
    z = np.repeat(zero, g, axis=1)[:, :C]
    return ((codes.astype(F) - z) * s).astype(F)


def selftest():
    """The hand case of tests/unit/test_imatrix.c: one row [1, -2, 0.5, 4], b = 3, g = -1,
    imp = 1: sigma2 = 21.25/4, weights sqrt(sigma2 + w^2). max = 4, nmax = 4: iscale = -1 gives
    levels [-1, 2, 0, -4], sumlx = -suml2 = -88.58, scale -1; is = -9..-1 give these levels or
    round 4 to -3 (worse). is = +1 (iscale -1.025) rounds 0.5 to -1 instead: sumlx = -89.76, suml2 = 90.94, sumlx^2/suml2 = 88.60 > 88.58, so it
    wins (later candidates give the same levels, not strictly better): codes [3, 6, 3, 0],
    scale = sumlx / suml2 = -0.98703."""
    W = np.array([[1.0, -2.0, 0.5, 4.0]], F)
    codes, scale, _ = quantize(W, None, 3, -1)
    print("codes", codes.tolist(), "scale %.9g" % scale[0, 0])
    assert codes.tolist() == [[3, 6, 3, 0]], codes
    assert abs(scale[0, 0] + 0.98703) < 1e-5, scale
    c, s, _ = quantize(np.zeros((2, 8), F), None, 4, 4)
    assert (c == 8).all() and (s == 0).all()
    W = np.random.default_rng(0).standard_normal((8, 70)).astype(F)
    for b, g, sym in ((2, 32, 1), (3, 32, 1), (4, -1, 1), (8, 16, 1), (3, 32, 0), (4, -1, 0)):
        c, s, z = quantize(W, None, b, g, sym)
        err = float(np.square(dequant(c, s, z, g) - W).mean())
        assert err < float(np.square(W).mean()) * 0.5 ** b, (b, g, sym, err)
    print("selftest ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["selftest"]:
        selftest()
        sys.exit(0)
    print(__doc__)
    sys.exit(2)
