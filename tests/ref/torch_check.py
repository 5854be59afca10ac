#!/usr/bin/python3
"""Recomputes the float64 reference's logits (tests/ref/dump_ref64.c) with
PyTorch, written the way the Python implementations write it, not the way
ref_llama64.h does:

- llama RoPE as Meta's / llama2.c's model.py: adjacent pairs viewed as complex
  numbers and multiplied by e^(i*theta) (torch.view_as_complex / polar);
- qwen2 RoPE as Hugging Face's rotate_half (pairs (i, i + R/2));
- partial rotary (only the first R dims) as GPT-NeoX / HF partial_rotary;
- linear scaling as HF LinearScalingRotaryEmbedding (t / factor), Llama-3
  rope_freqs as inv_freq / factor;
- dense attention over the whole sequence at once with a causal mask (the
  reference feeds one token at a time), GQA via repeat_interleave (HF repeat_kv);
- streaming as mit-han-lab/streaming-llm: pre-RoPE keys cached, all re-rotated
  with cache positions 0..n-1 at each step, cache cut to start + recent after.

usage: torch_check.py DIR   (DIR written by dump_ref64). Exit 1 on mismatch.
"""
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

# ---- a minimal GGUF v3 reader (f32 tensors only) --------------------------------

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}


def read_gguf(path):
    b = open(path, "rb").read()
    p = 0

    def take(fmt):
        nonlocal p
        v = struct.unpack_from(fmt, b, p)[0]
        p += struct.calcsize(fmt)
        return v

    def string():
        nonlocal p
        n = take("<Q")
        s = b[p:p + n]
        p += n
        return s.decode("utf-8", "replace")

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(SCALAR[t])

    assert b[:4] == b"GGUF", path
    p = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    assert version == 3
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        typ, off = take("<I"), take("<Q")
        infos.append((name, ne, typ, off))
    align = kv.get("general.alignment", 32)
    data = (p + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        assert typ == 0, f"{name}: only f32 here"
        n = int(np.prod(ne))
        a = np.frombuffer(b, dtype="<f4", count=n, offset=data + off).astype(np.float64)
        tensors[name] = torch.from_numpy(a.reshape(list(reversed(ne))).copy())
    return kv, tensors


# ---- the model ------------------------------------------------------------------


class Model:
    def __init__(self, path):
        kv, t = read_gguf(path)
        a = kv["general.architecture"]
        self.neox = a == "qwen2"
        self.E = kv[f"{a}.embedding_length"]
        self.L = kv[f"{a}.block_count"]
        self.H = kv[f"{a}.attention.head_count"]
        self.G = kv.get(f"{a}.attention.head_count_kv", self.H)
        self.D = self.E // self.H
        self.R = kv.get(f"{a}.rope.dimension_count", self.D)
        self.eps = kv.get(f"{a}.attention.layer_norm_rms_epsilon", 1e-5)
        base = kv.get(f"{a}.rope.freq_base", 10000.0)
        factor = kv.get(f"{a}.rope.scaling.factor", 1.0) \
            if kv.get(f"{a}.rope.scaling.type", "none") == "linear" else 1.0
        self.pos_div = factor
        inv_freq = 1.0 / (base ** (torch.arange(0, self.R, 2, dtype=torch.float64) / self.R))
        if "rope_freqs.weight" in t:
            inv_freq = inv_freq / t["rope_freqs.weight"]
        self.inv_freq = inv_freq
        self.t = t
        self.emb = t["token_embd.weight"]
        self.out = t.get("output.weight", self.emb)

    def rms(self, x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):
        """x (heads, n, D) rotated at positions pos (n)."""
        t = pos.to(torch.float64) / self.pos_div
        ang = torch.outer(t, self.inv_freq)  # (n, R/2)
        xr, xp = x[..., :self.R], x[..., self.R:]
        if self.neox:
            cos = torch.cat([ang.cos(), ang.cos()], -1)
            sin = torch.cat([ang.sin(), ang.sin()], -1)
            h = self.R // 2
            rot = torch.cat([-xr[..., h:], xr[..., :h]], -1)
            out = xr * cos + rot * sin
        else:
            xc = torch.view_as_complex(xr.reshape(*xr.shape[:-1], self.R // 2, 2).contiguous())
            out = torch.view_as_real(xc * torch.polar(torch.ones_like(ang), ang)).flatten(-2)
        return torch.cat([out, xp], -1)

    def attend(self, q, k, v, mask, zero_sink):
        """q (H, m, D), k/v (G, n, D), mask (m, n) additive."""
        rep = self.H // self.G
        k = k.repeat_interleave(rep, 0)
        v = v.repeat_interleave(rep, 0)
        s = q @ k.transpose(1, 2) / math.sqrt(self.D) + mask
        if zero_sink:  # softmax-off-by-one: an extra logit fixed at 0
            s = torch.cat([s, torch.zeros(*s.shape[:-1], 1)], -1)
            return torch.softmax(s, -1)[..., :-1] @ v
        return torch.softmax(s, -1) @ v

    def qkv(self, l, xn):
        t = self.t
        def lin(w, b):
            y = xn @ t[w].T
            return y + t[b] if b in t else y
        q = lin(f"blk.{l}.attn_q.weight", f"blk.{l}.attn_q.bias")
        k = lin(f"blk.{l}.attn_k.weight", f"blk.{l}.attn_k.bias")
        v = lin(f"blk.{l}.attn_v.weight", f"blk.{l}.attn_v.bias")
        n = xn.shape[0]
        return (q.view(n, self.H, self.D).transpose(0, 1), k.view(n, self.G, self.D).transpose(0, 1),
                v.view(n, self.G, self.D).transpose(0, 1))

    def ffn_and_out(self, l, x, att):
        t = self.t
        n = x.shape[0]
        x = x + att.transpose(0, 1).reshape(n, self.E) @ t[f"blk.{l}.attn_output.weight"].T
        xn = self.rms(x, t[f"blk.{l}.ffn_norm.weight"])
        g = torch.nn.functional.silu(xn @ t[f"blk.{l}.ffn_gate.weight"].T)
        u = xn @ t[f"blk.{l}.ffn_up.weight"].T
        return x + (g * u) @ t[f"blk.{l}.ffn_down.weight"].T

    def dense(self, toks, zero_sink):
        """All positions at once with a causal mask: (n, V) logits."""
        n = len(toks)
        x = self.emb[torch.tensor(toks)]
        pos = torch.arange(n)
        mask = torch.full((n, n), float("-inf")).triu(1)
        for l in range(self.L):
            q, k, v = self.qkv(l, self.rms(x, self.t[f"blk.{l}.attn_norm.weight"]))
            att = self.attend(self.rope(q, pos), self.rope(k, pos), v, mask, zero_sink)
            x = self.ffn_and_out(l, x, att)
        return self.rms(x, self.t["output_norm.weight"]) @ self.out.T

    def streaming(self, toks, start, recent, zero_sink):
        """One token at a time, StreamingLLM cache: (n, V) logits."""
        ks = [torch.zeros(self.G, 0, self.D) for _ in range(self.L)]
        vs = [torch.zeros(self.G, 0, self.D) for _ in range(self.L)]
        rows = []
        for tok in toks:
            x = self.emb[torch.tensor([tok])]
            for l in range(self.L):
                q, k, v = self.qkv(l, self.rms(x, self.t[f"blk.{l}.attn_norm.weight"]))
                ks[l] = torch.cat([ks[l], k], 1)
                vs[l] = torch.cat([vs[l], v], 1)
                n = ks[l].shape[1]
                kr = self.rope(ks[l], torch.arange(n))
                qr = self.rope(q, torch.tensor([n - 1]))
                att = self.attend(qr, kr, vs[l], torch.zeros(1, n), zero_sink)
                x = self.ffn_and_out(l, x, att)
            rows.append(self.rms(x, self.t["output_norm.weight"]) @ self.out.T)
            for l in range(self.L):
                if ks[l].shape[1] > start + recent:
                    ks[l] = torch.cat([ks[l][:, :start], ks[l][:, -recent:]], 1)
                    vs[l] = torch.cat([vs[l][:, :start], vs[l][:, -recent:]], 1)
        return torch.cat(rows, 0)


def main():
    d = sys.argv[1]
    toks = [int(x) for x in open(os.path.join(d, "tokens.txt")).read().split()]
    bad = 0
    for line in open(os.path.join(d, "manifest.txt")):
        name, start, recent, dense, zs = line.split()
        m = Model(os.path.join(d, name + ".gguf"))
        ref = np.fromfile(os.path.join(d, name + ".logits"), dtype="<f8")
        ref = torch.from_numpy(ref.reshape(len(toks), -1))
        if dense == "1":
            got = m.dense(toks, zs == "1")
        else:
            got = m.streaming(toks, int(start), int(recent), zs == "1")
        diff = (got - ref).abs().max().item()
        scale = max(1.0, ref.abs().max().item())
        ok = diff <= 1e-9 * scale
        bad += not ok
        print(f"{'PASS' if ok else 'FAIL'} torch_{name}: max |ref64 - torch| = {diff:.3g}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
