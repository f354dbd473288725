# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Trains the shapes model (vprim_shapes/twin.py) on generated scenes, on the CPU.

  train.py --out DIR [--minutes 90] [--seed 1] [--threads 2]

Resumable: DIR/state.pt holds the model, optimiser and step; rerunning continues from it.
Curriculum: small images with one or two shapes first, then the whole task. Coordinates are
trained with soft targets (a narrow Gaussian over neighbouring values, mixed with the exact one)
and the coordinate tokens start from smooth embeddings, so nearby values start out alike."""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from vprim_shapes import data, twin
from vprim_shapes.vocab import Vocab


def model_config(vocab_size):
    return {
        "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
        "vocab_size": vocab_size, "hidden_size": 96, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 32, "qk_rope_head_dim": 16,
        "q_lora_rank": 64, "o_lora_rank": 32, "o_groups": 2, "sliding_window": 64,
        "index_n_heads": 4, "index_head_dim": 32, "index_topk": 8,
        "n_routed_experts": 8, "num_experts_per_tok": 2, "n_shared_experts": 1, "moe_intermediate_size": 96,
        "routed_scaling_factor": 1.5, "swiglu_limit": 10.0, "hc_mult": 4, "hc_sinkhorn_iters": 6, "hc_eps": 1e-6,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "compress_rope_theta": 160000.0,
        "compress_ratios": [0, 4, 8, 4], "num_hash_layers": 1,
        "scoring_func": "sqrtsoftplus", "topk_method": "noaux_tc", "norm_topk_prob": True,
        "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536, "beta_fast": 32, "beta_slow": 1},
        "max_position_embeddings": 4096, "num_nextn_predict_layers": 0, "tie_word_embeddings": False,
        "bos_token_id": 0, "eos_token_id": 1, "torch_dtype": "float32",
        "vision_n_layers": 3, "vision_dim": 96, "vision_n_heads": 4, "vision_inter_dim": 192,
        "vision_patch_size": 14, "vision_rope_theta": 10000.0, "vision_downsample_ratio": 3,
        "vision_max_n_token": 50, "vision_min_pixels": 28224, "vision_max_wh_ratio": 8,
    }


def init_model(cfg, vocab, seed):
    torch.manual_seed(seed)
    m = twin.Model(cfg)
    dec = m.decoder
    g = torch.Generator().manual_seed(seed + 1)
    for layer in dec.layers:  # a fixed random hash table for the hash layers
        if layer.ffn.bias is None:
            V, K, E = cfg["vocab_size"], cfg["num_experts_per_tok"], cfg["n_routed_experts"]
            layer.ffn.tid2eid.copy_(torch.stack([torch.randperm(E, generator=g)[:K] for _ in range(V)]))
    # coordinate tokens: smooth (Fourier) features of the value in embedding and head rows
    D = cfg["hidden_size"]
    nums = [(vocab.id[str(v)] if str(v) in vocab.id else None, v) for v in range(1000)]
    freqs = torch.arange(1, D // 2 + 1, dtype=torch.float32) * math.pi / 1000 * 0.5
    with torch.no_grad():
        for tid, v in nums:
            f = torch.cat([torch.sin(v * freqs), torch.cos(v * freqs)]) * 0.5
            dec.embed.weight[tid] = f
            dec.head.weight[tid] = f * 0.2
    return m


def soft_targets(logits, b, vocab, sigma=6.0, exact=0.5):
    """Cross entropy against the exact next token, blended for coordinates with a Gaussian over
    the neighbouring values."""
    mask = b.targets >= 0
    logp = F.log_softmax(logits, dim=-1)  # the target rows only
    nll = -logp.gather(1, b.targets[mask][:, None])[:, 0]
    coord = b.coord[mask]
    cm = coord >= 0
    if cm.any():
        ids = torch.tensor([vocab.id[str(v)] for v in range(1000)])
        vals = torch.arange(1000, dtype=torch.float32)
        w = torch.exp(-0.5 * ((vals[None, :] - coord[cm][:, None].float()) / sigma) ** 2)
        w = w / w.sum(-1, keepdim=True)
        soft = -(w * logp[cm][:, ids]).sum(-1)
        nll = nll.clone()
        nll[cm] = exact * nll[cm] + (1 - exact) * soft
    return nll.mean()


class DenseHeads(torch.nn.Module):
    """Training-only heads on the decoder's image positions after layer TAP (not shipped): each
    merged token predicts the shape whose centre is in its cell (class, box) and where the cell is
    in the image. They give every image token a target, so the layers learn early where each
    token sits and what it holds, which the answer then only has to read."""
    TAP = 1

    def __init__(self, D):
        super().__init__()
        self.cls = torch.nn.Linear(D, data.NO_OBJECT + 1)
        self.box = torch.nn.Linear(D, 4)
        self.pos = torch.nn.Linear(D, 2)

    def loss(self, tapped, b, vocab_size):
        image = b.ids == vocab_size + twin.IMAGE
        h = tapped[image].view(b.ids.shape[0], len(b.perm), -1)  # N-layout order
        perm = torch.tensor(b.perm)
        cls, box, pos = b.cell_cls[:, perm], b.cell_box[:, perm], b.cell_pos[:, perm]
        obj = cls != data.NO_OBJECT
        l_cls = F.cross_entropy(self.cls(h).flatten(0, 1), cls.flatten())
        l_box = (self.box(h)[obj] - box[obj]).abs().mean() if obj.any() else h.sum() * 0
        l_pos = (self.pos(h) - pos).abs().mean()
        return l_cls + 5 * l_box + 5 * l_pos


def balance(model, rate=1e-3):
    """Auxiliary-loss-free load balancing: nudge the selection biases (text: bias, image: bias_vl)
    toward the experts that got fewer tokens."""
    for layer in model.decoder.layers:
        ffn = layer.ffn
        if ffn.load is None:
            continue
        text, image = ffn.load
        for load, bias in ((text, ffn.bias), (image, ffn.bias_vl)):
            if bias is not None and load.sum() > 0:
                bias += rate * torch.sign(load.mean() - load)


def phase(step, total):
    """(sides, counts) of the curriculum at `step`."""
    f = step / max(1, total)
    if f < 0.1:
        return (168, 224), (1, 2)
    if f < 0.25:
        return (168, 280), (1, 4)
    return (168, 336), (1, 6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=90)
    ap.add_argument("--steps", type=int, default=6000, help="schedule length (the curriculum and the LR follow it)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    vocab = Vocab()
    cfg = model_config(len(vocab))
    model = init_model(cfg, vocab, a.seed)
    heads = DenseHeads(cfg["hidden_size"])
    opt = torch.optim.AdamW(list(model.parameters()) + list(heads.parameters()), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.98))
    step, spent = 0, 0.0
    state_path = os.path.join(a.out, "state.pt")
    if os.path.exists(state_path):
        st = torch.load(state_path)
        model.load_state_dict(st["model"])
        heads.load_state_dict(st["heads"])
        opt.load_state_dict(st["opt"])
        step, spent = st["step"], st["spent"]
        print(f"resumed at step {step} ({spent / 60:.1f} min spent)")
    with open(os.path.join(a.out, "train_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    rng = np.random.default_rng([a.seed, step])
    t0, last_save = time.time() - spent, time.time()
    log = open(os.path.join(a.out, "log.txt"), "a")
    while step < a.steps and (time.time() - t0) < a.minutes * 60:
        sides, counts = phase(step, a.steps)
        b = data.make_batch(rng, a.batch, vocab, cfg, sides, counts)
        lr = a.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for gparam in opt.param_groups:
            gparam["lr"] = lr
        feats = model.vision(b.patches, b.gh, b.gw)
        hidden = model.decoder.hidden(model.embed_inputs(b.ids, feats, b.perm), b.ids, tap=DenseHeads.TAP)
        loss = soft_targets(model.decoder.head(hidden[b.targets >= 0]), b, vocab)
        dense = heads.loss(model.decoder.tapped, b, cfg["vocab_size"])
        aux = [l.attn.index_loss for l in model.decoder.layers if l.attn.index_loss is not None]
        total = loss + dense + (0.1 * sum(aux) if aux else 0)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(heads.parameters()), 1.0)
        opt.step()
        with torch.no_grad():
            balance(model)
        step += 1
        if step % 20 == 0:
            msg = (f"step {step} loss {loss.item():.4f} dense {dense.item():.4f} index {sum(x.item() for x in aux):.4f} lr {lr:.2e} "
                   f"{(time.time() - t0) / 60:.1f} min, {b.ids.shape[1]} tokens, grid {b.gh}x{b.gw}")
            print(msg, flush=True)
            log.write(msg + "\n")
            log.flush()
        if time.time() - last_save > 300 or step == a.steps:
            torch.save({"config": cfg, "model": model.state_dict(), "heads": heads.state_dict(), "opt": opt.state_dict(), "step": step, "spent": time.time() - t0}, state_path)
            last_save = time.time()
    torch.save({"config": cfg, "model": model.state_dict(), "heads": heads.state_dict(), "opt": opt.state_dict(), "step": step, "spent": time.time() - t0}, state_path)
    print(f"stopped at step {step} after {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
