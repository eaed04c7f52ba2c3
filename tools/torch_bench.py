#!/usr/bin/env python3
"""PyTorch reference benchmark for `cpu_llm bench`.

Trains a GPT-2 (plain torch.nn, eager mode) on random tokens for a few steps
and prints ONE JSON object on stdout, so that the bench can put PyTorch's
figures in the same table as its own, measured in the same run on the same
machine. Diagnostics go to stderr only.

  /usr/bin/python3 tools/torch_bench.py --n-layer 6 --n-head 6 --n-embd 384 \
      --vocab 50257 --padded-vocab 50304 --max-seq-len 128 --batch 8 \
      --seq-len 128 --warmup-steps 1 --steps 5 --threads 2 --dtype fp32

Exit codes: 0 ok, 2 bad arguments (argparse), 3 PyTorch is not installed (the
bench reads 3 as "skip this row").

The model matches cpu_llm/llm.c: token + learned position embeddings,
pre-LayerNorm blocks with a fused qkv projection, GELU (tanh approximation),
final LayerNorm, LM head tied to wte, vocabulary padded to Vp with the padded
logits left out of the loss. The optimizer is AdamW with weight decay on the
matrices only and a global grad-norm clip, as in cpu_llm's trainer.
"""
import argparse
import json
import os
import math
import resource
import sys
import time

LR, BETAS, EPS, WEIGHT_DECAY, GRAD_CLIP = 3e-4, (0.9, 0.95), 1e-8, 0.1, 1.0


def parse_args(argv):
    p = argparse.ArgumentParser(prog="torch_bench.py",
                                description="PyTorch GPT-2 training benchmark (JSON on stdout)")
    p.add_argument("--n-layer", type=int, required=True)
    p.add_argument("--n-head", type=int, required=True)
    p.add_argument("--n-embd", type=int, required=True)
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--padded-vocab", type=int, required=True)
    p.add_argument("--max-seq-len", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--warmup-steps", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--seed", type=int, default=1337)
    a = p.parse_args(argv)
    # Validate here, before torch is imported, so that a bad command line is
    # always exit 2 (argparse's convention) and never a torch traceback.
    for name in ("n_layer", "n_head", "n_embd", "vocab", "padded_vocab",
                 "max_seq_len", "batch", "seq_len", "steps", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.warmup_steps < 0:
        p.error("--warmup-steps must not be negative")
    if a.n_embd % a.n_head != 0:
        p.error(f"--n-embd {a.n_embd} is not a multiple of --n-head {a.n_head}")
    if a.padded_vocab < a.vocab:
        p.error(f"--padded-vocab {a.padded_vocab} is smaller than --vocab {a.vocab}")
    if a.seq_len > a.max_seq_len:
        p.error(f"--seq-len {a.seq_len} is longer than --max-seq-len {a.max_seq_len}")
    return a


def build_model(torch, a):
    """Returns the GPT-2 module. torch is passed in because it is imported late."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_head = a.n_head
            self.qkv = nn.Linear(a.n_embd, 3 * a.n_embd)
            self.proj = nn.Linear(a.n_embd, a.n_embd)
            self.proj.residual = True  # marks it for the 1/sqrt(2L) init
            # Causal mask built once; a buffer (not a parameter) so that it is
            # neither trained nor counted. PyTorch 1.13 has no
            # scaled_dot_product_attention, so attention is written out.
            mask = torch.tril(torch.ones(a.max_seq_len, a.max_seq_len, dtype=torch.bool))
            self.register_buffer("mask", mask, persistent=False)

        def forward(self, x):
            B, T, C = x.shape
            hd = C // self.n_head
            q, k, v = self.qkv(x).split(C, dim=2)
            # (B, T, C) -> (B, NH, T, hd)
            q, k, v = (t.view(B, T, self.n_head, hd).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(a.n_embd)
            self.attn = Attention()
            self.ln2 = nn.LayerNorm(a.n_embd)
            self.fc = nn.Linear(a.n_embd, 4 * a.n_embd)
            self.gelu = nn.GELU(approximate="tanh")
            self.fc_proj = nn.Linear(4 * a.n_embd, a.n_embd)
            self.fc_proj.residual = True

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.fc_proj(self.gelu(self.fc(self.ln2(x))))

    class GPT2(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(a.padded_vocab, a.n_embd)
            self.wpe = nn.Embedding(a.max_seq_len, a.n_embd)
            self.blocks = nn.ModuleList(Block() for _ in range(a.n_layer))
            self.ln_f = nn.LayerNorm(a.n_embd)
            self.apply(self._init)
            # cpu_llm zeroes the padding rows of wte; do the same so that both
            # start from the same kind of model (they are never looked up and
            # their logits are excluded from the loss).
            with torch.no_grad():
                self.wte.weight[a.vocab:].zero_()

        def _init(self, m):
            if isinstance(m, nn.Linear):
                std = 0.02 / math.sqrt(2 * a.n_layer) if getattr(m, "residual", False) else 0.02
                nn.init.normal_(m.weight, mean=0.0, std=std)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            # nn.LayerNorm already starts at weight 1, bias 0.

        def forward(self, idx, targets):
            T = idx.shape[1]
            pos = torch.arange(T, dtype=torch.long)
            x = self.wte(idx) + self.wpe(pos)
            for block in self.blocks:
                x = block(x)
            x = self.ln_f(x)
            logits = F.linear(x, self.wte.weight)  # tied LM head, (B, T, Vp)
            # Padded vocabulary entries are not real tokens: drop their logits.
            # The loss is taken in fp32 even under bf16 autocast, as the
            # C++ trainer does.
            logits = logits[..., :a.vocab].float()
            return F.cross_entropy(logits.reshape(-1, a.vocab), targets.reshape(-1))

    return GPT2()


def make_optimizer(torch, model):
    # Weight decay on matrices (2D: embeddings and Linear weights) only;
    # biases and LayerNorm gains/biases are not decayed.
    params = list(model.parameters())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=EPS)


def tensor_bytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


def loaded_blas():
    """The BLAS library this process really maps (Debian's torch links the
    libblas.so.3 alternative: the reference netlib BLAS or OpenBLAS)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    names = sorted({os.path.realpath(p) for p in paths})
    return ", ".join(os.path.relpath(n, "/usr/lib/x86_64-linux-gnu") if n.startswith("/usr/lib/x86_64-linux-gnu")
                     else n for n in names) or "none"


def main(argv):
    a = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch_bench.py: error: PyTorch is not installed", file=sys.stderr)
        return 3

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = build_model(torch, a)
    model.train()
    optimizer = make_optimizer(torch, model)
    # model.parameters() yields each tensor once, so the tied head is not
    # counted twice; the causal mask is a buffer and is not counted.
    params = list(model.parameters())
    n_params = sum(p.numel() for p in params)
    print(f"torch_bench: torch {torch.__version__}, {n_params} parameters, "
          f"dtype {a.dtype}, {torch.get_num_threads()} threads", file=sys.stderr)

    # Data comes from its own generator so that it does not depend on how
    # many random numbers the initialisation consumed.
    gen = torch.Generator().manual_seed(a.seed)
    step_ms, losses = [], []
    for step in range(a.warmup_steps + a.steps):
        # The batch is drawn before the timer starts: only training is timed.
        batch = torch.randint(0, a.vocab, (a.batch, a.seq_len + 1), generator=gen, dtype=torch.long)
        inputs, targets = batch[:, :-1], batch[:, 1:]
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        # bf16: autocast covers forward + loss only; weights, gradients and
        # the optimizer stay fp32 (mixed precision with fp32 master weights).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=(a.dtype == "bf16")):
            loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        optimizer.step()
        ms = (time.perf_counter() - t0) * 1e3
        value = loss.item()
        if step >= a.warmup_steps:
            step_ms.append(ms)
            # JSON has no NaN/Infinity; a diverged step is written as null.
            losses.append(value if math.isfinite(value) else None)
        print(f"torch_bench: step {step + 1}/{a.warmup_steps + a.steps}"
              f"{' (warm-up)' if step < a.warmup_steps else ''}: loss {value:.4f}, {ms:.1f} ms",
              file=sys.stderr)

    # Gradients still exist after the last step (they are only released by
    # the next zero_grad), so their size can be measured here.
    grads = [p.grad for p in params if p.grad is not None]
    states = [optimizer.state[p][key] for p in params for key in ("exp_avg", "exp_avg_sq")
              if key in optimizer.state[p]]
    result = {
        "impl": "pytorch",
        "torch_version": str(torch.__version__),
        "blas": loaded_blas(),
        "dtype": a.dtype,
        "threads": torch.get_num_threads(),
        "config": {
            "n_layer": a.n_layer, "n_head": a.n_head, "n_embd": a.n_embd,
            "vocab_size": a.vocab, "padded_vocab_size": a.padded_vocab,
            "max_seq_len": a.max_seq_len, "B": a.batch, "T": a.seq_len,
            "params": n_params,
        },
        "warmup_steps": a.warmup_steps,
        "step_ms": step_ms,
        "losses": losses,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "bytes": {
            "params": tensor_bytes(params),
            "grads": tensor_bytes(grads),
            "optimizer": tensor_bytes(states),
        },
    }
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
