#!/usr/bin/python3
"""Mean cross-entropy of a Hugging Face export on one (B,T) batch, in plain torch.

An independent check of `cpu_llm export --format safetensors`: this reads
DIR/model.safetensors and DIR/config.json itself (json + struct + numpy, no
safetensors or transformers package) and runs the forward pass exactly as
transformers' GPT2LMHeadModel (Conv1D weights stored (in, out), gelu_new,
LayerNorm eps from config.json) or LlamaForCausalLM (RMSNorm, rotate-half
RoPE, SwiGLU MLP) does. The batch is cpu_llm's: the first B*T+1 tokens of an
llm.c shard, inputs the first B*T and targets shifted by one, rows of T.

    /usr/bin/python3 tools/hf_gpt2_loss.py DIR shard.bin --batch 2 --seq-len 16

prints {"loss": ..., ...} as one JSON line; `cpu_llm eval` prints the same
number for the checkpoint the folder was exported from.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

SHARD_MAGIC = 20240520
NP_DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    """name -> float32 torch tensor (F32, F16 and BF16 widened exactly)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        if info["dtype"] == "BF16":
            # bf16 is the top half of a float32.
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in NP_DTYPES:
            arr = np.frombuffer(raw, dtype=NP_DTYPES[info["dtype"]]).astype(np.float32)
        else:
            sys.exit(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        # save_pretrained() of GPT2LMHeadModel prefixes GPT-2's names.
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        tensors[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return tensors


def read_batch(path, B, T):
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(1024), dtype=np.int32)
        if header[0] != SHARD_MAGIC:
            sys.exit(f"{path}: not an llm.c token shard")
        tokens = np.frombuffer(f.read(), dtype=np.uint16)
    if len(tokens) < B * T + 1:
        sys.exit(f"{path}: {len(tokens)} tokens, fewer than one batch of {B}x{T}+1")
    window = torch.from_numpy(tokens[:B * T + 1].astype(np.int64))
    return window[:-1].view(B, T), window[1:].view(B, T)


def causal_attention(q, k, v):
    """q, k, v (B, NH, T, HS): softmax(q k^T / sqrt(HS), causal) v, as HF's eager attention."""
    T, HS = q.shape[-2], q.shape[-1]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(HS)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = att.masked_fill(~mask, torch.finfo(att.dtype).min)
    return torch.softmax(att, dim=-1) @ v


def heads(x, NH):
    B, T, C = x.shape
    return x.view(B, T, NH, C // NH).transpose(1, 2)


def merge(y):
    B, NH, T, HS = y.shape
    return y.transpose(1, 2).reshape(B, T, NH * HS)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_logits(w, cfg, idx):
    C, NH, eps = cfg["n_embd"], cfg["n_head"], cfg.get("layer_norm_epsilon", 1e-5)
    B, T = idx.shape

    def conv1d(x, name):  # HF Conv1D: x @ W + b, W (in, out)
        return x @ w[name + ".weight"] + w[name + ".bias"]

    def ln(x, name):
        return F.layer_norm(x, (C,), w[name + ".weight"], w[name + ".bias"], eps)

    x = w["wte.weight"][idx] + w["wpe.weight"][torch.arange(T)]
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        q, k, v = conv1d(ln(x, p + "ln_1"), p + "attn.c_attn").split(C, dim=2)
        x = x + conv1d(merge(causal_attention(heads(q, NH), heads(k, NH), heads(v, NH))), p + "attn.c_proj")
        x = x + conv1d(gelu_new(conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    x = ln(x, "ln_f")
    head = w["wte.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return x @ head.T


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_logits(w, cfg, idx):
    C, NH, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg.get("rms_norm_eps", 1e-6)
    HS = cfg.get("head_dim") or C // NH
    theta = cfg.get("rope_theta", 10000.0)
    B, T = idx.shape

    def rms(x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return w[name + ".weight"] * (x * torch.rsqrt(var + eps))

    def lin(x, name):  # nn.Linear: W (out, in)
        return x @ w[name + ".weight"].T

    # LlamaRotaryEmbedding: inv_freq over even channel indices, cos/sin duplicated over both halves.
    inv_freq = 1.0 / (theta ** (torch.arange(0, HS, 2, dtype=torch.int64).float() / HS))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(w["model.norm.weight"].dtype), emb.sin().to(w["model.norm.weight"].dtype)

    x = w["model.embed_tokens.weight"][idx]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, p + "input_layernorm")
        q, k, v = (heads(lin(h, p + "self_attn." + n), NH) for n in ("q_proj", "k_proj", "v_proj"))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        x = x + lin(merge(causal_attention(q, k, v)), p + "self_attn.o_proj")
        h = rms(x, p + "post_attention_layernorm")
        x = x + lin(F.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, "model.norm")
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir", help="folder with model.safetensors and config.json")
    ap.add_argument("tokens", help="llm.c token shard")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--double", action="store_true", help="compute in float64 instead of float32")
    args = ap.parse_args()
    with open(os.path.join(args.export_dir, "config.json")) as f:
        cfg = json.load(f)
    dtype = torch.float64 if args.double else torch.float32
    w = {k: v.to(dtype) for k, v in read_safetensors(os.path.join(args.export_dir, "model.safetensors")).items()}
    inputs, targets = read_batch(args.tokens, args.batch, args.seq_len)
    with torch.no_grad():
        if cfg["model_type"] == "gpt2":
            logits = gpt2_logits(w, cfg, inputs)
        elif cfg["model_type"] == "llama":
            logits = llama_logits(w, cfg, inputs)
        else:
            sys.exit(f"{args.export_dir}: model_type {cfg['model_type']} is not supported")
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    print(json.dumps({"loss": loss.item(), "model_type": cfg["model_type"], "batch": args.batch,
                      "seq_len": args.seq_len}))


if __name__ == "__main__":
    main()
