# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Writes a trained shapes model in the release's layout, and the trainer's own forward pass for
vprim's C++ to be checked against.

  export.py STATE.pt MODEL_DIR GOLDEN.safetensors [SCENE.png]

MODEL_DIR gets config.json (release keys), model.safetensors (release tensor names, fp32: the
numbers the trainer used) and tokenizer.json. GOLDEN holds a bundled scene (seed 20261207), its
patches, the prompt (text ids and expanded ids), the greedy answer the trainer's model writes and
its logits at every position: prefill rows and each decode step."""

import json
import os
import sys

import numpy as np
import torch

from vprim_shapes import data, safetensors, scenes, twin
from vprim_shapes.vocab import EOS, Vocab

GOLDEN_SEED = 20261207


def release_tensors(model):
    cfg, out = model.cfg, {}

    def put(name, t):
        out[name] = t.detach().float().contiguous().numpy()
    v = model.vision
    put("vision.patch_embed.proj.weight", v.patch_embed.weight)
    put("vision.patch_embed.proj.bias", v.patch_embed.bias)
    for i, b in enumerate(v.blocks):
        p = f"vision.blocks.{i}."
        put(p + "norm1.weight", b.norm1)
        put(p + "norm2.weight", b.norm2)
        for mod, name in ((b.wqkv, "attn.wqkv"), (b.wo, "attn.wo")):
            put(p + name + ".weight", mod.weight)
            put(p + name + ".bias", mod.bias)
        put(p + "mlp.w1.weight", b.w1.weight)
        put(p + "mlp.w2.weight", b.w2.weight)
    put("vision.norm.weight", v.norm)
    for mod, name in ((v.aligner_w1, "aligner.w1"), (v.aligner_w2, "aligner.w2")):
        put(name + ".weight", mod.weight)
        put(name + ".bias", mod.bias)
    d = model.decoder
    put("embed.weight", d.embed.weight)
    put("head.weight", d.head.weight)
    put("norm.weight", d.norm)
    put("hc_head_fn", d.hc_head.fn)
    put("hc_head_base", d.hc_head.base)
    put("hc_head_scale", d.hc_head.scale)
    for k, name in enumerate(("image_start", "image_pad", "image_newline", "image_end")):
        put(name, d.image_sentinels[k])
    for i, layer in enumerate(d.layers):
        p, a = f"layers.{i}.", layer.attn
        for name in ("wq_a", "wq_b", "wkv", "wo_a", "wo_b"):
            put(f"{p}attn.{name}.weight", getattr(a, name).weight)
        put(p + "attn.q_norm.weight", a.q_norm)
        put(p + "attn.kv_norm.weight", a.kv_norm)
        put(p + "attn.attn_sink", a.attn_sink)
        comps = [("attn.compressor.", a.compressor)] if a.ratio else []
        if a.indexer is not None:
            comps.append(("attn.indexer.compressor.", a.indexer.compressor))
            put(p + "attn.indexer.wq_b.weight", a.indexer.wq_b.weight)
            put(p + "attn.indexer.weights_proj.weight", a.indexer.weights_proj.weight)
        for cp, c in comps:
            put(p + cp + "wkv.weight", c.wkv.weight)
            put(p + cp + "wgate.weight", c.wgate.weight)
            put(p + cp + "ape", c.ape)
            put(p + cp + "norm.weight", c.norm)
        put(p + "attn_norm.weight", layer.attn_norm)
        put(p + "ffn_norm.weight", layer.ffn_norm)
        for hc, name in ((layer.hc_attn, "hc_attn"), (layer.hc_ffn, "hc_ffn")):
            put(f"{p}{name}_fn", hc.fn)
            put(f"{p}{name}_base", hc.base)
            put(f"{p}{name}_scale", hc.scale)
        f = layer.ffn
        put(p + "ffn.gate.weight", f.gate.weight)
        put(p + "ffn.gate.bias_vl", f.bias_vl)
        if f.bias is None:
            out[p + "ffn.gate.tid2eid"] = f.tid2eid.numpy().astype(np.int64)
        else:
            put(p + "ffn.gate.bias", f.bias)
        for e in range(f.w1.shape[0]):
            put(f"{p}ffn.experts.{e}.w1.weight", f.w1[e])
            put(f"{p}ffn.experts.{e}.w3.weight", f.w3[e])
            put(f"{p}ffn.experts.{e}.w2.weight", f.w2[e])
        put(p + "ffn.shared_experts.w1.weight", f.s1.weight)
        put(p + "ffn.shared_experts.w3.weight", f.s3.weight)
        put(p + "ffn.shared_experts.w2.weight", f.s2.weight)
    return out


def matrices(model):
    """The Linear, embedding and expert weight matrices: shipped in BF16, as the release ships its
    unquantised matrices (norms, hyper-connection mixes, biases, sinks and sentinels stay F32)."""
    for mod in model.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)):
            yield mod.weight
        if isinstance(mod, twin.MoE):
            yield from (mod.w1, mod.w2, mod.w3)


def round_matrices_to_bf16(model):
    """Rounds the matrices in place, so that the model the golden records is the model shipped."""
    with torch.no_grad():
        for w in matrices(model):
            w.copy_(w.to(torch.bfloat16).to(torch.float32))


def load_model(state_path):
    st = torch.load(state_path)
    cfg = st.get("config")
    if cfg is None:
        with open(os.path.join(os.path.dirname(state_path), "train_config.json")) as f:
            cfg = json.load(f)
    model = twin.Model(cfg)
    model.load_state_dict(st["model"])
    model.eval()
    return model


@torch.no_grad()
def greedy(model, vocab, pixels, question, max_new=120):
    """-> (patches, plan, text ids, expanded ids, block_begin, generated ids, logits [P+G-1, V])."""
    cfg = model.cfg
    patches, p = scenes.patches_of(pixels, max_tokens=cfg["vision_max_n_token"])
    text_ids = vocab.encode(data.PROMPT.format(q=question))
    ids, begin, perm = data.prompt_ids(vocab, question, p[4], p[5], cfg["vocab_size"])
    feats = model.vision(torch.from_numpy(patches)[None], p[2], p[3])
    gen = []
    for _ in range(max_new):
        seq = torch.tensor([ids + gen])
        logits = model.decoder(model.embed_inputs(seq, feats, perm), seq)[0]
        nxt = int(logits[-1].argmax())
        gen.append(nxt)
        if nxt == EOS:
            break
    seq = torch.tensor([ids + gen[:-1]])
    logits = model.decoder(model.embed_inputs(seq, feats, perm), seq)[0]
    return patches, p, text_ids, ids, begin, gen, logits.numpy()


def bundled_scene():
    rng = np.random.default_rng(GOLDEN_SEED)
    return scenes.make_scene(rng, 308, 252, count=5)


def main():
    state, out_dir, golden = sys.argv[1:4]
    png = sys.argv[4] if len(sys.argv) > 4 else None
    torch.set_num_threads(2)
    model, vocab = load_model(state), Vocab()
    round_matrices_to_bf16(model)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.cfg, f, indent=1)
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        f.write(vocab.to_json())
    tensors = release_tensors(model)
    bf16 = {name for name, a in tensors.items() if name.endswith(".weight") and a.ndim == 2}  # = matrices(model)
    safetensors.save(os.path.join(out_dir, "model.safetensors"), tensors, {"format": "pt"}, bf16=bf16)
    sc = bundled_scene()
    if png:
        scenes.write_png(png, sc.pixels)
    question = "How many shapes?"
    patches, p, text_ids, ids, begin, gen, logits = greedy(model, vocab, sc.pixels, question)
    safetensors.save(golden, {
        "pixels_hwc": sc.pixels, "patches": patches, "grid": np.array(p[2:], dtype=np.int64),
        "prompt_text_ids": np.array(text_ids, dtype=np.int64), "prompt_ids": np.array(ids, dtype=np.int64),
        "block_begin": np.array([begin], dtype=np.int64), "generated": np.array(gen, dtype=np.int64),
        "logits": logits.astype(np.float32)}, {"kind": "shapes_model", "question": question})
    size = os.path.getsize(os.path.join(out_dir, "model.safetensors"))
    print(f"{out_dir}: {len(tensors)} tensors, {size} bytes ({len(bf16)} matrices in BF16); golden {golden}:")
    print("  " + vocab.decode(gen))


if __name__ == "__main__":
    main()
