#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures that tests/test_parity.cc reads.

Run with Debian's torch:  /usr/bin/python3 tools/gen_parity_fixtures.py
The tests themselves never need torch; they read the committed files:

  tests/fixtures/parity_model.bin     llm.c model checkpoint (v3, fp32): the
                                      initial weights of a tiny GPT-2
  tests/fixtures/parity_expected.bin  what PyTorch computed from them:
      int32[256] header: [0] 20241127 magic, [1] 1 version, [2] B, [3] T,
                         [4] n_steps, [5] n_params, [6] V, [7] Vp
      float32[256] hyper-parameters: [0] lr, [1] beta1, [2] beta2, [3] eps,
                         [4] weight_decay, [5] grad_clip
      int32 inputs (B*T), int32 targets (B*T)
      float32 logits (B*T*Vp), float32 loss
      float32 gradients (n_params, llm.c parameter order)
      float32 step losses (n_steps), float32 step grad norms (n_steps)

The reference is computed in float64 from the float32 weights, so the C++
float32 results are compared against the exact answer, not against another
float32 rounding. The model is written out op by op (no nn.Module) in the
same parameter layout as cpu_llm and llm.c.
"""
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

# Tiny config: 2 layers, C=64, 4 heads, vocab 300 (padded 384), maxT 32, B=2, T=16.
L, C, NH, V, MAXT = 2, 64, 4, 300, 32
VP = (V + 127) // 128 * 128
B, T = 2, 16
N_STEPS = 10
LR, BETA1, BETA2, EPS, WD, CLIP = 1e-3, 0.9, 0.95, 1e-8, 0.1, 1.0

# (name, shape, is_matrix) in llm.c order; matrices get weight decay.
SPEC = [
    ("wte", (VP, C), True), ("wpe", (MAXT, C), True),
    ("ln1w", (L, C), False), ("ln1b", (L, C), False),
    ("qkvw", (L, 3 * C, C), True), ("qkvb", (L, 3 * C), False),
    ("attprojw", (L, C, C), True), ("attprojb", (L, C), False),
    ("ln2w", (L, C), False), ("ln2b", (L, C), False),
    ("fcw", (L, 4 * C, C), True), ("fcb", (L, 4 * C), False),
    ("fcprojw", (L, C, 4 * C), True), ("fcprojb", (L, C), False),
    ("lnfw", (C,), False), ("lnfb", (C,), False),
]


def init_params(gen):
    """GPT-2-like scales, but biases and layernorm parameters are random too,
    so every parameter path is exercised by the comparison."""
    p = {}
    for name, shape, is_matrix in SPEC:
        if name.startswith("ln") and name.endswith("w"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif is_matrix:
            std = 0.02 / math.sqrt(2 * L) if name in ("attprojw", "fcprojw") else 0.02
            t = std * torch.randn(shape, generator=gen)
        else:
            t = 0.02 * torch.randn(shape, generator=gen)
        p[name] = t.float()
    p["wte"][V:] = 0.0  # vocabulary padding rows, as llm.c
    return p


def forward(p, x, y):
    """Logits (B,T,Vp) and mean cross-entropy over the first V columns."""
    hs = C // NH
    h = p["wte"][x] + p["wpe"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        a = F.layer_norm(h, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = a @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, NH, hs).transpose(1, 2)
        k = k.view(B, T, NH, hs).transpose(1, 2)
        v = v.view(B, T, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, C)
        h = h + o @ p["attprojw"][l].T + p["attprojb"][l]
        m = F.layer_norm(h, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        m = F.gelu(m @ p["fcw"][l].T + p["fcb"][l], approximate="tanh")
        h = h + m @ p["fcprojw"][l].T + p["fcprojb"][l]
    h = F.layer_norm(h, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = h @ p["wte"].T
    loss = F.cross_entropy(logits[..., :V].reshape(-1, V), y.reshape(-1))
    return logits, loss


def flat(tensors):
    return torch.cat([tensors[name].reshape(-1) for name, _, _ in SPEC])


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    p32 = init_params(gen)
    tokens = torch.randint(0, V, (B, T + 1), generator=gen)
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    params = {k: v.double().clone().requires_grad_(True) for k, v in p32.items()}
    logits, loss = forward(params, x, y)
    loss.backward()
    grads = flat({k: v.grad for k, v in params.items()})
    logits0, loss0 = logits.detach(), loss.item()

    # Ten AdamW steps on the same batch, with global-norm clipping.
    params = {k: v.double().clone().requires_grad_(True) for k, v in p32.items()}
    decay = [params[n] for n, _, m in SPEC if m]
    no_decay = [params[n] for n, _, m in SPEC if not m]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(BETA1, BETA2), eps=EPS)
    losses, norms = [], []
    for _ in range(N_STEPS):
        opt.zero_grad()
        _, loss = forward(params, x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())

    n_params = grads.numel()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "parity_model.bin"), "wb") as f:
        header = [20240326, 3, MAXT, V, L, NH, C, VP] + [0] * 248
        f.write(struct.pack("<256i", *header))
        f.write(flat(p32).numpy().astype("<f4").tobytes())
    with open(os.path.join(OUT, "parity_expected.bin"), "wb") as f:
        header = [20241127, 1, B, T, N_STEPS, n_params, V, VP] + [0] * 248
        f.write(struct.pack("<256i", *header))
        f.write(struct.pack("<256f", *([LR, BETA1, BETA2, EPS, WD, CLIP] + [0.0] * 250)))
        f.write(x.numpy().astype("<i4").tobytes())
        f.write(y.numpy().astype("<i4").tobytes())
        f.write(logits0.numpy().astype("<f4").tobytes())
        f.write(struct.pack("<f", loss0))
        f.write(grads.numpy().astype("<f4").tobytes())
        f.write(struct.pack(f"<{N_STEPS}f", *losses))
        f.write(struct.pack(f"<{N_STEPS}f", *norms))
    print(f"wrote fixtures to {os.path.normpath(OUT)}: {n_params} params, loss {loss0:.6f}, "
          f"step losses {losses[0]:.5f} .. {losses[-1]:.5f}")


if __name__ == "__main__":
    sys.exit(main())
