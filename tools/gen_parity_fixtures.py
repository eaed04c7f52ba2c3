#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures that tests/test_parity.cc reads.

One pair of files per block variant: GPT-2's (parity_model.bin,
parity_expected.bin) and, for the block options of plan item 10,
parity_<variant>_model.bin / parity_<variant>_expected.bin (variants below;
their model files are cpu_llm's version 2003, the options in header slots
[8] norm [9] mlp [10] pos [11] bias [12] tied head [13] MLP width [14] RoPE
theta as float32 bits).

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

# Block variants: (name, norm, mlp, pos, bias, tied). GPT-2's first.
VARIANTS = [
    ("", "layernorm", "gelu", "learned", True, True),
    ("llama", "rmsnorm", "swiglu", "rope", False, False),
    ("relu2", "layernorm", "relu2", "learned", False, True),
    ("silu", "layernorm", "silu", "rope", True, False),
]
NORM_IDS = {"layernorm": 0, "rmsnorm": 1}
MLP_IDS = {"gelu": 0, "relu2": 1, "silu": 2, "swiglu": 3}
POS_IDS = {"learned": 0, "rope": 1}
ROPE_THETA = 10000.0


def mlp_hidden(mlp):
    return (8 * C // 3 + 63) // 64 * 64 if mlp == "swiglu" else 4 * C


def spec(variant):
    """(name, shape, is_matrix) in llm.c order then the untied head; the
    tensors a variant drops are left out. Matrices get weight decay."""
    _, norm, mlp, pos, bias, tied = variant
    H = mlp_hidden(mlp)
    Fr = 2 * H if mlp == "swiglu" else H
    nb = bias and norm == "layernorm"
    out = [("wte", (VP, C), True)]
    if pos == "learned":
        out.append(("wpe", (MAXT, C), True))
    out.append(("ln1w", (L, C), False))
    if nb:
        out.append(("ln1b", (L, C), False))
    out.append(("qkvw", (L, 3 * C, C), True))
    if bias:
        out.append(("qkvb", (L, 3 * C), False))
    out.append(("attprojw", (L, C, C), True))
    if bias:
        out.append(("attprojb", (L, C), False))
    out.append(("ln2w", (L, C), False))
    if nb:
        out.append(("ln2b", (L, C), False))
    out.append(("fcw", (L, Fr, C), True))
    if bias:
        out.append(("fcb", (L, Fr), False))
    out.append(("fcprojw", (L, C, H), True))
    if bias:
        out.append(("fcprojb", (L, C), False))
    out.append(("lnfw", (C,), False))
    if nb:
        out.append(("lnfb", (C,), False))
    if not tied:
        out.append(("lmheadw", (VP, C), True))
    return out


def init_params(gen, variant):
    """GPT-2-like scales, but biases and norm parameters are random too,
    so every parameter path is exercised by the comparison."""
    p = {}
    for name, shape, is_matrix in spec(variant):
        if name.startswith("ln") and name.endswith("w"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif is_matrix:
            std = 0.02 / math.sqrt(2 * L) if name in ("attprojw", "fcprojw") else 0.02
            t = std * torch.randn(shape, generator=gen)
        else:
            t = 0.02 * torch.randn(shape, generator=gen)
        p[name] = t.float()
    p["wte"][V:] = 0.0  # vocabulary padding rows, as llm.c
    if "lmheadw" in p:
        p["lmheadw"][V:] = 0.0
    return p


def norm(variant, h, w, b):
    if variant[1] == "rmsnorm":
        return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5) * w
    return F.layer_norm(h, (C,), w, b, eps=1e-5)


def activation(variant, x):
    mlp = variant[2]
    if mlp == "gelu":
        return F.gelu(x, approximate="tanh")
    if mlp == "relu2":
        return F.relu(x) ** 2
    if mlp == "silu":
        return F.silu(x)
    gate, up = x.split(x.shape[-1] // 2, dim=-1)
    return F.silu(gate) * up


def rope(x, hs):
    """HF's rotate-half RoPE on (B, NH, T, hs), angles in float64."""
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], dim=-1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], dim=-1).to(x.dtype)
    x1, x2 = x[..., : hs // 2], x[..., hs // 2:]
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


def forward(p, x, y, variant=VARIANTS[0]):
    """Logits (B,T,Vp) and mean cross-entropy over the first V columns."""
    hs = C // NH
    g = lambda name, l=None: (p[name] if l is None else p[name][l]) if name in p else None
    add = lambda t, b: t if b is None else t + b
    h = p["wte"][x]
    if "wpe" in p:
        h = h + p["wpe"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        a = norm(variant, h, p["ln1w"][l], g("ln1b", l))
        qkv = add(a @ p["qkvw"][l].T, g("qkvb", l))
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, NH, hs).transpose(1, 2)
        k = k.view(B, T, NH, hs).transpose(1, 2)
        v = v.view(B, T, NH, hs).transpose(1, 2)
        if variant[3] == "rope":
            q, k = rope(q, hs), rope(k, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, C)
        h = h + add(o @ p["attprojw"][l].T, g("attprojb", l))
        m = norm(variant, h, p["ln2w"][l], g("ln2b", l))
        m = activation(variant, add(m @ p["fcw"][l].T, g("fcb", l)))
        h = h + add(m @ p["fcprojw"][l].T, g("fcprojb", l))
    h = norm(variant, h, p["lnfw"], g("lnfb"))
    logits = h @ (p["lmheadw"] if "lmheadw" in p else p["wte"]).T
    loss = F.cross_entropy(logits[..., :V].reshape(-1, V), y.reshape(-1))
    return logits, loss


def flat(tensors, variant):
    return torch.cat([tensors[name].reshape(-1) for name, _, _ in spec(variant)])


def write_variant(variant):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    p32 = init_params(gen, variant)
    tokens = torch.randint(0, V, (B, T + 1), generator=gen)
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    params = {k: v.double().clone().requires_grad_(True) for k, v in p32.items()}
    logits, loss = forward(params, x, y, variant)
    loss.backward()
    grads = flat({k: v.grad for k, v in params.items()}, variant)
    logits0, loss0 = logits.detach(), loss.item()

    # Ten AdamW steps on the same batch, with global-norm clipping.
    params = {k: v.double().clone().requires_grad_(True) for k, v in p32.items()}
    decay = [params[n] for n, _, m in spec(variant) if m]
    no_decay = [params[n] for n, _, m in spec(variant) if not m]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(BETA1, BETA2), eps=EPS)
    losses, norms = [], []
    for _ in range(N_STEPS):
        opt.zero_grad()
        _, loss = forward(params, x, y, variant)
        loss.backward()
        norm_ = torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP)
        opt.step()
        losses.append(loss.item())
        norms.append(norm_.item())

    n_params = grads.numel()
    name, norm_kind, mlp, pos, bias, tied = variant
    prefix = "parity_" + (name + "_" if name else "")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, prefix + "model.bin"), "wb") as f:
        if name:
            theta_bits = struct.unpack("<i", struct.pack("<f", ROPE_THETA))[0]
            options = [NORM_IDS[norm_kind], MLP_IDS[mlp], POS_IDS[pos], int(bias), int(tied), mlp_hidden(mlp),
                       theta_bits]
            header = [20240326, 2003, MAXT, V, L, NH, C, VP] + options + [0] * 241
        else:
            header = [20240326, 3, MAXT, V, L, NH, C, VP] + [0] * 248
        f.write(struct.pack("<256i", *header))
        f.write(flat(p32, variant).numpy().astype("<f4").tobytes())
    with open(os.path.join(OUT, prefix + "expected.bin"), "wb") as f:
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
    print(f"wrote {prefix}*.bin to {os.path.normpath(OUT)}: {n_params} params, loss {loss0:.6f}, "
          f"step losses {losses[0]:.5f} .. {losses[-1]:.5f}")


def main():
    for variant in VARIANTS:
        write_variant(variant)


if __name__ == "__main__":
    sys.exit(main())
