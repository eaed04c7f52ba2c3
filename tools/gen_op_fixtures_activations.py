#!/usr/bin/env python3
"""Writes tests/fixtures/op_activations.bin, PyTorch's answers for the MLP
activations of src/kernels/activations.h, which tests/test_kernels_activations.cc
compares the C++ kernels to.

Run with Debian's torch:  /usr/bin/python3 tools/gen_op_fixtures_activations.py
The tests never need torch; they read the committed file. Little-endian:

  int32[4] header: [0] 20250801 magic, [1] 1 version, [2] n_records (3), [3] 0
  n_records records, in the order relu2, silu, swiglu, each:
    int32[4]: [0] op (0 relu2, 1 silu, 2 swiglu), [1] N, [2] H (0 for the
              element-wise ops), [3] 0
    float32 inp  (n_in)    n_in = N, or N*2H for swiglu (gate | up per row)
    float32 dout (n_out)   n_out = N, or N*H for swiglu
    float64 out  (n_out)   the op's forward
    float64 dinp (n_in)    d(sum(out * dout)) / d(inp), by autograd

Inputs are drawn in float32 (what the kernels take) and widened, so torch
computes in float64 from exactly the C++ inputs: the expected values are the
exact answer to well below float32's rounding, not another float32 result.
Besides random values, the inputs hold SPECIAL: zeros, tiny values, silu's
stationary point (where silu' cancels to 0) and the large magnitudes where a
clamped fast exp saturates (|x| around 87-88 and beyond).
"""
import os
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "op_activations.bin")

MAGIC, VERSION = 20250801, 1
N_ELEMENTWISE = 1000  # random values, then SPECIAL: 1023 in all, off any vector width
SWIGLU_N, SWIGLU_H = 9, 67
SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, -1.2784645, 1.0, -1.0, 5.0, -5.0, 15.0, -15.0, 30.0, -30.0, 60.0,
           -60.0, 87.5, -87.5, 88.5, -88.5, 100.0, -100.0]


def elementwise_inputs(gen):
    x = torch.cat([4.0 * torch.randn(N_ELEMENTWISE, generator=gen), torch.tensor(SPECIAL)]).float()
    return x, torch.randn(x.numel(), generator=gen).float()


def swiglu_inputs(gen):
    gate = 4.0 * torch.randn(SWIGLU_N, SWIGLU_H, generator=gen)
    gate.view(-1)[:len(SPECIAL)] = torch.tensor(SPECIAL)
    up = 2.0 * torch.randn(SWIGLU_N, SWIGLU_H, generator=gen)
    inp = torch.cat([gate, up], dim=1).float()
    return inp, torch.randn(SWIGLU_N, SWIGLU_H, generator=gen).float()


def relu2(x):
    return torch.relu(x) ** 2


def swiglu(x):
    gate, up = x.split(SWIGLU_H, dim=-1)
    return F.silu(gate) * up


def forward_backward(fn, inp32, dout32):
    """fn's output and input gradient in float64 from the float32 inputs."""
    x = inp32.double().requires_grad_(True)
    out = fn(x)
    (out * dout32.double()).sum().backward()
    return out.detach(), x.grad.detach()


def record(f, op, n, h, fn, inp32, dout32):
    out, dinp = forward_backward(fn, inp32, dout32)
    assert torch.isfinite(out).all() and torch.isfinite(dinp).all()
    f.write(struct.pack("<4i", op, n, h, 0))
    f.write(inp32.reshape(-1).numpy().astype("<f4").tobytes())
    f.write(dout32.reshape(-1).numpy().astype("<f4").tobytes())
    f.write(out.reshape(-1).numpy().astype("<f8").tobytes())
    f.write(dinp.reshape(-1).numpy().astype("<f8").tobytes())


def main():
    gen = torch.Generator().manual_seed(8)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<4i", MAGIC, VERSION, 3, 0))
        x, dy = elementwise_inputs(gen)
        record(f, 0, x.numel(), 0, relu2, x, dy)
        x, dy = elementwise_inputs(gen)
        record(f, 1, x.numel(), 0, F.silu, x, dy)
        x, dy = swiglu_inputs(gen)
        record(f, 2, SWIGLU_N, SWIGLU_H, swiglu, x, dy)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
