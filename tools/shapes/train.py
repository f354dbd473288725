# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Trains the shapes model (vprim_shapes/twin.py) on generated scenes, on the CPU.

  train.py --out DIR [--minutes 90] [--seed 1] [--threads 2] [--tower-minutes M] [--window 192]
           [--point-weight 1] [--point-from label|ref] [--coord-rows quadratic|fourier]
           [--questions balanced|eval] [--all-share 0.5] [--cell-class weighted|plain] [--probe-weight 0.5]

Resumable: DIR/state.pt holds the model, optimiser and step; rerunning continues from it.
With --tower-minutes M > 0, first the tower and aligner alone learn for M minutes, per merged
token, which shape has its centre in the token's cell and where that shape's edges are relative
to the cell (a probe head, not shipped; about three times cheaper per scene than the whole
model); then the whole model, the tower at --tower-rate, the probe's loss kept. (Tried: the
probe learns the cells, the decoder in the remaining time did not learn to read them; the
shipped model was trained without it, M = 0.)
Curriculum: small images with one or two shapes first, then the whole task. Coordinates are
trained with soft targets (a narrow Gaussian over neighbouring values, mixed with the exact one)
and the coordinate tokens start from smooth embeddings, so nearby values start out alike.
Pointing (--point-weight, on by default since session 14): one head in each of the last two
layers is taught, at every answer token of box j, to attend to the image token holding box j's
centre, the copy that writing a box is; the head's coordinate rows start quadratic in the value
(--coord-rows), so a state that holds x linearly scores x highest. (Tried, session 15, not
shipped: --point-from ref, pointing also where the answer decides to open box j: count 77.0%,
boxes 31.5%, against the then shipped recipe's 75.8% / 43.8%.)
Questions (--questions balanced, shipped since session 16): a question naming a colour and a
shape has none, one or several matches equally often (the evaluation's mix has one match 64% of
the time, and the model trained on it answered every such question with one box); the cells'
class targets weigh empty cells down (--cell-class weighted), and the tower probe's loss on the
aligner's output trains beside the model from the start (--probe-weight 0.5). Before: --questions
eval --cell-class plain --probe-weight 0 (75.8% / 43.8%); with them 81.4% / 53.0%. "How many
shapes?" is asked half the time, as the evaluation asks it (--all-share 0.5, since session 17;
session 16: 0.4): 83.8% / 60.5%. (Tried, session 18, not shipped: --point-weight 3, the heads no
sharper and the rest learnt worse: 82.4% / 41.6%. Session 19, not shipped: --cell-box cover,
box targets on every cell a shape covers: 84.8% / 58.6% in 2,500 steps.)"""

import argparse
import ctypes
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from vprim_shapes import data, twin
from vprim_shapes.vocab import Vocab


def model_config(vocab_size, window=192):
    return {
        "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
        "vocab_size": vocab_size, "hidden_size": 96, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 32, "qk_rope_head_dim": 16,
        "q_lora_rank": 64, "o_lora_rank": 32, "o_groups": 2, "sliding_window": window,
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


def init_model(cfg, vocab, seed, coord_rows="quadratic"):
    torch.manual_seed(seed)
    m = twin.Model(cfg)
    dec = m.decoder
    g = torch.Generator().manual_seed(seed + 1)
    for layer in dec.layers:  # a fixed random hash table for the hash layers
        if layer.ffn.bias is None:
            V, K, E = cfg["vocab_size"], cfg["num_experts_per_tok"], cfg["n_routed_experts"]
            layer.ffn.tid2eid.copy_(torch.stack([torch.randperm(E, generator=g)[:K] for _ in range(V)]))
    # coordinate tokens: smooth (Fourier) features of the value in the embedding rows; in the head
    # rows either the same features, or ("quadratic") u e_A - u^2/2 e_B with u = v / 999 in the
    # last two dimensions, so that a hidden state a (x e_A + e_B) scores the values as
    # -a (u - x)^2 / 2 + const: the best value is x itself, read linearly from the state.
    D = cfg["hidden_size"]
    nums = [(vocab.id[str(v)] if str(v) in vocab.id else None, v) for v in range(1000)]
    freqs = torch.arange(1, D // 2 + 1, dtype=torch.float32) * math.pi / 1000 * 0.5
    with torch.no_grad():
        for tid, v in nums:
            f = torch.cat([torch.sin(v * freqs), torch.cos(v * freqs)]) * 0.5
            dec.embed.weight[tid] = f
            if coord_rows == "quadratic":
                u = v / 999
                dec.head.weight[tid] = 0
                dec.head.weight[tid, -2:] = torch.tensor([u, -u * u / 2]) * 8
            else:
                dec.head.weight[tid] = f * 0.2
    return m


POINTING = ((2, 0), (3, 0))  # (layer, head) pairs the pointing loss teaches


def pointing_loss(model, b):
    """Each answer token of box j should attend, in the supervised heads, to the image token that
    holds box j's centre (training only: it teaches the copy that writing a box is)."""
    if b.point.numel() == 0:
        return torch.zeros(())
    r, t, s = b.point.unbind(1)
    losses = [-(model.decoder.layers[l].attn.probs[r, h, t, s] + 1e-6).log().mean() for l, h in POINTING]
    return sum(losses) / len(losses)


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


def cell_class_loss(logits, cls):
    """Cross entropy over cells, the empty class weighted down: most cells are empty, and
    unweighted the probe learns to call every cell empty."""
    weight = torch.ones(data.NO_OBJECT + 1)
    weight[data.NO_OBJECT] = 0.1
    return F.cross_entropy(logits.flatten(0, 1), cls.flatten(), weight=weight)


class TowerProbe(torch.nn.Module):
    """Training-only linear heads on the aligner's output: cell class and the shape's edges
    relative to the cell centre (in cells)."""

    def __init__(self, D):
        super().__init__()
        self.cls = torch.nn.Linear(D, data.NO_OBJECT + 1)
        self.local = torch.nn.Linear(D, 4)

    def loss(self, feats, b):
        obj = b.cell_cls != data.NO_OBJECT
        logits = self.cls(feats)
        l_cls = cell_class_loss(logits, b.cell_cls)
        err = (self.local(feats)[obj] - b.cell_local[obj]).abs()
        with torch.no_grad():
            right = logits.argmax(-1) == b.cell_cls
            stats = (right[obj].float().mean().item(), right[~obj].float().mean().item(), err.mean().item() * 42)
        return l_cls + 5 * err.mean(), stats


def train_tower(model, probe, a, vocab, cfg, state, log):
    """Phase one: the tower and the probe alone, until `a.tower_minutes` are spent."""
    params = list(model.vision.parameters()) + list(probe.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01, betas=(0.9, 0.98))
    if "tower_opt" in state:
        opt.load_state_dict(state["tower_opt"])
    step, spent = state.get("tower_step", 0), state.get("tower_spent", 0.0)
    rng = np.random.default_rng([a.seed, 7, step])
    t0 = time.time() - spent
    while time.time() - t0 < a.tower_minutes * 60:
        f = (time.time() - t0) / (a.tower_minutes * 60)
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * f)))
        b = data.make_batch(rng, 2 * a.batch, vocab, cfg, *phase(int(f * a.steps), a.steps))
        loss, (obj_acc, empty_acc, px) = probe.loss(model.vision(b.patches, b.gh, b.gw), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 20 == 0:
            msg = (f"tower step {step} loss {loss.item():.4f} object cells right {obj_acc:.3f} empty cells right {empty_acc:.3f} "
                   f"edge error {px:.1f} px {(time.time() - t0) / 60:.1f} min")
            print(msg, flush=True)
            log.write(msg + "\n")
            log.flush()
        if step % 200 == 0:
            state.update(tower_opt=opt.state_dict(), tower_step=step, tower_spent=time.time() - t0)
            yield
    state.update(tower_opt=opt.state_dict(), tower_step=step, tower_spent=a.tower_minutes * 60, tower_done=True)
    yield


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

    def loss(self, tapped, b, vocab_size, weighted=False):
        image = b.ids == vocab_size + twin.IMAGE
        h = tapped[image].view(b.ids.shape[0], len(b.perm), -1)  # N-layout order
        perm = torch.tensor(b.perm)
        cls, box, pos, has_box = b.cell_cls[:, perm], b.cell_box[:, perm], b.cell_pos[:, perm], b.cell_has_box[:, perm]
        l_cls = cell_class_loss(self.cls(h), cls) if weighted else F.cross_entropy(self.cls(h).flatten(0, 1), cls.flatten())
        l_box = (self.box(h)[has_box] - box[has_box]).abs().mean() if has_box.any() else h.sum() * 0
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


def keep_freed_memory():
    """glibc gives blocks over 128 KiB back to the kernel when they are freed, so each step
    page-faults its [B*H, N, N] attention maps in anew (~10% of a step); keep them in the heap."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
    libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    libc.mallopt(M_TOP_PAD, 256 << 20)


def save(path, **state):
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=90, help="whole budget, the tower phase included")
    ap.add_argument("--tower-minutes", type=float, default=0, help="the tower-first phase (0: none, as the shipped model)")
    ap.add_argument("--tower-rate", type=float, default=0.3, help="the tower's learning rate after its phase, relative")
    ap.add_argument("--window", type=int, default=192,
                    help="sliding window (the shipped model: 192, which covers the longest sequence of the task, "
                         "151 tokens, so every answer token reads every image token; the model before it: 64)")
    ap.add_argument("--point-weight", type=float, default=1.0,
                    help="weight of the pointing loss (0: off; the models before session 14 had none)")
    ap.add_argument("--point-from", choices=("label", "ref"), default="label",
                    help="first answer token of a box the pointing loss covers: its label (shipped) or its <|ref|> (tried)")
    ap.add_argument("--coord-rows", choices=("quadratic", "fourier"), default="quadratic",
                    help="the head's coordinate rows at init (the models before session 14: fourier)")
    ap.add_argument("--questions", choices=("balanced", "eval"), default="balanced",
                    help="training questions: with none, one and several matches equally often (data.balanced_question, "
                         "shipped), or as the evaluation asks them (the models before session 16)")
    ap.add_argument("--all-share", type=float, default=0.5,
                    help="with --questions balanced, how often 'How many shapes?' is asked (the evaluation: 0.5; "
                         "session 16's model: 0.4)")
    ap.add_argument("--cell-class", choices=("weighted", "plain"), default="weighted",
                    help="the dense heads' cell-class loss: empty cells weighted down as the tower probe's (shipped), or "
                         "plain cross entropy (before session 16)")
    ap.add_argument("--probe-weight", type=float, default=0.5,
                    help="weight of the tower probe's loss while the whole model trains (0: none, the models before "
                         "session 16 without a tower phase)")
    ap.add_argument("--cell-box", choices=("centre", "cover"), default="centre",
                    help="which cells the dense heads' box loss covers: the cell holding a shape's centre (shipped), "
                         "or also every cell a shape's box covers by a quarter (data.cell_targets)")
    ap.add_argument("--steps", type=int, default=6000,
                    help="schedule length (the curriculum and the LR follow it; the shipped model: 2900)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    keep_freed_memory()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    vocab = Vocab()
    cfg = model_config(len(vocab), a.window)
    model = init_model(cfg, vocab, a.seed, a.coord_rows)
    for l, _ in POINTING:
        model.decoder.layers[l].attn.keep_probs = a.point_weight > 0
    probe = TowerProbe(cfg["hidden_size"])
    heads = DenseHeads(cfg["hidden_size"])
    tower = list(model.vision.parameters())
    rest = [p for n, p in model.named_parameters() if not n.startswith("vision.")] + list(heads.parameters())
    if a.probe_weight > 0 and a.tower_minutes == 0:  # the probe learns beside the model (after a tower phase it stays fixed)
        rest += list(probe.parameters())
    tower_scale = a.tower_rate if a.tower_minutes > 0 else 1.0
    opt = torch.optim.AdamW([{"params": tower, "scale": tower_scale}, {"params": rest, "scale": 1.0}],
                            lr=a.lr, weight_decay=0.01, betas=(0.9, 0.98))
    state_path = os.path.join(a.out, "state.pt")
    state = torch.load(state_path) if os.path.exists(state_path) else {}
    if state:
        model.load_state_dict(state["model"])
        probe.load_state_dict(state["probe"])
        heads.load_state_dict(state["heads"])
        if "opt" in state:
            opt.load_state_dict(state["opt"])
        print(f"resumed: tower step {state.get('tower_step', 0)}, step {state.get('step', 0)}")
    with open(os.path.join(a.out, "train_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    log = open(os.path.join(a.out, "log.txt"), "a")

    def checkpoint(**extra):
        state.update(extra, config=cfg, model=model.state_dict(), probe=probe.state_dict(), heads=heads.state_dict())
        save(state_path, **state)

    if a.tower_minutes > 0 and not state.get("tower_done"):
        for _ in train_tower(model, probe, a, vocab, cfg, state, log):
            checkpoint()
    step, spent = state.get("step", 0), state.get("spent", a.tower_minutes * 60)
    rng = np.random.default_rng([a.seed, step])
    t0, last_save = time.time() - spent, time.time()
    while step < a.steps and (time.time() - t0) < a.minutes * 60:
        sides, counts = phase(step, a.steps)
        b = data.make_batch(rng, a.batch, vocab, cfg, sides, counts, point_from_ref=a.point_from == "ref",
                            questions=a.questions, all_share=a.all_share, box_cells=a.cell_box)
        lr = a.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for gparam in opt.param_groups:
            gparam["lr"] = lr * gparam["scale"]
        feats = model.vision(b.patches, b.gh, b.gw)
        probe_loss = probe.loss(feats, b)[0] if a.probe_weight > 0 else torch.zeros(())  # the tower's cells
        hidden = model.decoder.hidden(model.embed_inputs(b.ids, feats, b.perm), b.ids, tap=DenseHeads.TAP)
        loss = soft_targets(model.decoder.head(hidden[b.targets >= 0]), b, vocab)
        dense = heads.loss(model.decoder.tapped, b, cfg["vocab_size"], weighted=a.cell_class == "weighted")
        aux = [l.attn.index_loss for l in model.decoder.layers if l.attn.index_loss is not None]
        point = pointing_loss(model, b) if a.point_weight > 0 else torch.zeros(())
        total = loss + dense + a.probe_weight * probe_loss + a.point_weight * point + (0.1 * sum(aux) if aux else 0)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(heads.parameters()), 1.0)
        opt.step()
        with torch.no_grad():
            balance(model)
        step += 1
        if step % 20 == 0:
            msg = (f"step {step} loss {loss.item():.4f} dense {dense.item():.4f} probe {probe_loss.item():.4f} point {point.item():.4f} "
                   f"index {sum(x.item() for x in aux):.4f} lr {lr:.2e} "
                   f"{(time.time() - t0) / 60:.1f} min, {b.ids.shape[1]} tokens, grid {b.gh}x{b.gw}")
            print(msg, flush=True)
            log.write(msg + "\n")
            log.flush()
        if time.time() - last_save > 300 or step == a.steps:
            checkpoint(opt=opt.state_dict(), step=step, spent=time.time() - t0)
            last_save = time.time()
    checkpoint(opt=opt.state_dict(), step=step, spent=time.time() - t0)
    print(f"stopped at step {step} after {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
