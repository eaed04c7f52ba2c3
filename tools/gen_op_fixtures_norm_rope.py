#!/usr/bin/env python3
"""Writes the PyTorch fixtures for RMSNorm and RoPE that
tests/test_kernels_norm_rope_torch.cc reads.

Run with Debian's torch:  /usr/bin/python3 tools/gen_op_fixtures_norm_rope.py
The tests themselves never need torch; they read the committed files. Every
number is little-endian; every array is float32, row-major, in the C++
kernels' shapes (src/kernels/rmsnorm.h, src/kernels/rope.h).

  tests/fixtures/op_rmsnorm.bin
      char[4] "RMSN", int32 version (1), int32 n_cases, int32 0
      n_cases times:
        int32 N, int32 C, float32 eps, int32 0
        inp (N,C), weight (C), out (N,C), rstd (N),
        dout (N,C), dinp (N,C), dweight (C)

  tests/fixtures/op_rope.bin
      char[4] "ROPE", int32 version (1), int32 n_cases, int32 max_T,
      int32 HS, float32 theta, int32 0, int32 0
      cos (max_T, HS/2), sin (max_T, HS/2)
      n_cases times:
        int32 B, T, C, NH, pos0, 0, 0, 0     (C = NH * HS)
        qkv (B,T,3C), out (B,T,3C), dout (B,T,3C), dqkv (B,T,3C)

Inputs are drawn in float32 (so the C++ side reads them exactly) and every
result is computed in float64 from them, then rounded once to float32: the
kernels are compared to the exact answer, not to another float32 rounding.
Gradients are autograd's for the loss sum(out * dout); dinp and dweight are
those gradients alone (the C++ kernels add into zeroed buffers).

RMSNorm is x * rsqrt(mean(x^2) + eps) * w. RoPE is HF transformers'
rotary embedding: cos and sin of position * inv_freq, inv_freq =
1 / theta^(arange(0, HS, 2) / HS), concatenated twice, applied with
rotate_half to q and k reshaped per head (B, NH, T, HS); v passes through.
"""
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

# (N, C, eps): C off every vector width, so the kernels' tails are compared.
RMSNORM_CASES = [(7, 67, 1e-5), (4, 130, 1e-6), (3, 8, 1e-5)]
# One table for all RoPE cases. HS/2 = 10 is off the vector widths too; the
# second case starts late in the table (KV-cache decoding at position 505),
# where float32 angles would already be off by ~1e-5.
ROPE_MAX_T, ROPE_HS, ROPE_THETA = 512, 20, 10000.0
ROPE_CASES = [(2, 7, 3, 0), (1, 4, 3, 505)]  # (B, T, NH, pos0)


def f32(t):
    return t.double().numpy().astype("<f4").tobytes()


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_cos_sin(max_t, hs, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    freqs = torch.outer(torch.arange(max_t, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope(qkv, cos, sin, nh, pos0):
    b, t, c3 = qkv.shape
    c = c3 // 3
    hs = c // nh
    q, k, v = qkv.split(c, dim=-1)
    q = q.reshape(b, t, nh, hs).transpose(1, 2)
    k = k.reshape(b, t, nh, hs).transpose(1, 2)
    pos = torch.arange(pos0, pos0 + t)
    cs, sn = cos[pos][None, None], sin[pos][None, None]  # (1, 1, T, HS)
    q = q * cs + rotate_half(q) * sn
    k = k * cs + rotate_half(k) * sn
    q = q.transpose(1, 2).reshape(b, t, c)
    k = k.transpose(1, 2).reshape(b, t, c)
    return torch.cat((q, k, v), dim=-1)


def write_rmsnorm(gen, path):
    with open(path, "wb") as f:
        f.write(b"RMSN" + struct.pack("<3i", 1, len(RMSNORM_CASES), 0))
        for n, c, eps in RMSNORM_CASES:
            x = (1.5 * torch.randn(n, c, generator=gen) + 0.3).double().requires_grad_(True)
            w = (1.0 + 0.3 * torch.randn(c, generator=gen)).double().requires_grad_(True)
            dout = torch.randn(n, c, generator=gen).double()
            out = rmsnorm(x, w, eps)
            rstd = torch.rsqrt(x.detach().pow(2).mean(-1) + eps)
            (out * dout).sum().backward()
            f.write(struct.pack("<iifi", n, c, eps, 0))
            for t in (x.detach(), w.detach(), out.detach(), rstd, dout, x.grad, w.grad):
                f.write(f32(t))


def write_rope(gen, path):
    cos, sin = rope_cos_sin(ROPE_MAX_T, ROPE_HS, ROPE_THETA)
    half = ROPE_HS // 2
    with open(path, "wb") as f:
        f.write(b"ROPE" + struct.pack("<4if2i", 1, len(ROPE_CASES), ROPE_MAX_T, ROPE_HS, ROPE_THETA, 0, 0))
        f.write(f32(cos[:, :half]))
        f.write(f32(sin[:, :half]))
        for b, t, nh, pos0 in ROPE_CASES:
            c = nh * ROPE_HS
            qkv = torch.randn(b, t, 3 * c, generator=gen).double().requires_grad_(True)
            dout = torch.randn(b, t, 3 * c, generator=gen).double()
            out = rope(qkv, cos, sin, nh, pos0)
            (out * dout).sum().backward()
            f.write(struct.pack("<8i", b, t, c, nh, pos0, 0, 0, 0))
            for x in (qkv.detach(), out.detach(), dout, qkv.grad):
                f.write(f32(x))


def main():
    gen = torch.Generator().manual_seed(20250807)
    os.makedirs(OUT, exist_ok=True)
    write_rmsnorm(gen, os.path.join(OUT, "op_rmsnorm.bin"))
    write_rope(gen, os.path.join(OUT, "op_rope.bin"))
    print(f"wrote op_rmsnorm.bin ({len(RMSNORM_CASES)} cases) and op_rope.bin ({len(ROPE_CASES)} cases) "
          f"to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    sys.exit(main())
