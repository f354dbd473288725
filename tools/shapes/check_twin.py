# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Checks the torch twin (vprim_shapes/twin.py) against the peers' golden files that vprim's C++
matches: the DeepSeek-V4 decoder (transformers, 23-token prefill logits) and DeepSeek-ViT +
aligner. Usage: check_twin.py GOLDEN_DIR (tests/data). Exits 1 on a mismatch."""

import json
import sys

import numpy as np
import torch

from vprim_shapes import safetensors, twin


def release_config(hf):
    types = hf["layer_types"]
    comp = hf["compress_rope"] = hf["rope_parameters"]["compress"]
    return dict(hf, compress_ratios=[0 if t == "sliding_attention" else hf["compress_rates"][t] for t in types],
                num_hash_layers=sum(t == "hash_moe" for t in hf["mlp_layer_types"]),
                rope_scaling={k: comp[k] for k in ("factor", "original_max_position_embeddings", "beta_fast", "beta_slow")},
                vision_dim=1, vision_inter_dim=1, vision_patch_size=14, vision_n_layers=0, vision_n_heads=1,
                vision_rope_theta=1e4, vision_downsample_ratio=3)


def decoder_state(t, cfg):
    """transformers' names -> the twin's parameters."""
    w = {k[len("weight."):]: torch.from_numpy(v.copy()) for k, v in t.items() if k.startswith("weight.")}
    s = {"embed.weight": w["model.embed_tokens.weight"], "head.weight": w["lm_head.weight"], "norm": w["model.norm.weight"],
         "hc_head.fn": w["model.hc_head.hc_fn"], "hc_head.base": w["model.hc_head.hc_base"], "hc_head.scale": w["model.hc_head.hc_scale"]}
    I = cfg["moe_intermediate_size"]
    for i in range(cfg["num_hidden_layers"]):
        p, q = f"model.layers.{i}.", f"layers.{i}."
        for hf, ours in (("attn_hc", "hc_attn"), ("ffn_hc", "hc_ffn")):
            for k in ("fn", "base", "scale"):
                s[f"{q}{ours}.{k}"] = w[f"{p}{hf}.{k}"]
        s[q + "attn_norm"], s[q + "ffn_norm"] = w[p + "input_layernorm.weight"], w[p + "post_attention_layernorm.weight"]
        a = p + "self_attn."
        for hf, ours in (("q_a_proj", "wq_a"), ("q_b_proj", "wq_b"), ("kv_proj", "wkv"), ("o_a_proj", "wo_a"), ("o_b_proj", "wo_b")):
            s[f"{q}attn.{ours}.weight"] = w[f"{a}{hf}.weight"]
        s[q + "attn.q_norm"], s[q + "attn.kv_norm"], s[q + "attn.attn_sink"] = w[a + "q_a_norm.weight"], w[a + "kv_norm.weight"], w[a + "sinks"]
        for hfc, oc in ((a + "compressor.", q + "attn.compressor."), (a + "compressor.indexer.", q + "attn.indexer.compressor.")):
            if hfc + "kv_proj.weight" in w:
                s[oc + "wkv.weight"], s[oc + "wgate.weight"] = w[hfc + "kv_proj.weight"], w[hfc + "gate_proj.weight"]
                s[oc + "ape"], s[oc + "norm"] = w[hfc + "position_bias"], w[hfc + "kv_norm.weight"]
        if a + "compressor.indexer.q_b_proj.weight" in w:
            s[q + "attn.indexer.wq_b.weight"] = w[a + "compressor.indexer.q_b_proj.weight"]
            s[q + "attn.indexer.weights_proj.weight"] = w[a + "compressor.indexer.scorer.weights_proj.weight"]
        m = p + "mlp."
        s[q + "ffn.gate.weight"] = w[m + "gate.weight"]
        if m + "gate.tid2eid" in w:
            s[q + "ffn.tid2eid"] = w[m + "gate.tid2eid"].long()
        else:
            s[q + "ffn.bias"] = w[m + "gate.e_score_correction_bias"]
        gu = w[m + "experts.gate_up_proj"]
        s[q + "ffn.w1"], s[q + "ffn.w3"], s[q + "ffn.w2"] = gu[:, :I], gu[:, I:], w[m + "experts.down_proj"]
        for hf, ours in (("gate_proj", "s1"), ("up_proj", "s3"), ("down_proj", "s2")):
            s[f"{q}ffn.{ours}.weight"] = w[f"{m}shared_experts.{hf}.weight"]
    return s


def close(name, ours, ref):
    ref = torch.as_tensor(np.asarray(ref))
    err = (ours - ref).abs().max().item()
    bound = 1e-4 * max(1.0, ref.abs().max().item())
    print(f"  {name:28s} max|diff| {err:.2e} (bound {bound:.2e})")
    return err <= bound


def check_decoder(path):
    t, meta = safetensors.load(path)
    cfg = release_config(json.loads(meta["config"]))
    dec = twin.Decoder(cfg)
    missing = dec.load_state_dict(decoder_state(t, cfg), strict=False)
    allowed = {"image_sentinels"} | {k for k in missing.missing_keys if k.endswith("bias_vl")}
    assert set(missing.missing_keys) <= allowed and not missing.unexpected_keys, missing
    ids = torch.from_numpy(t["prefill.input_ids"].copy())
    with torch.no_grad():
        logits = dec(dec.embed(ids), ids)
    return close("decoder prefill logits", logits, t["prefill.logits"])


def check_vision(path):
    t, meta = safetensors.load(path)
    c = json.loads(meta["config"])
    tower = twin.VisionTower(c)
    w = {k[len("weight."):]: torch.from_numpy(v.copy()) for k, v in t.items() if k.startswith("weight.")}
    s = {"patch_embed.weight": w["vit.patch_embed.proj.weight"], "patch_embed.bias": w["vit.patch_embed.proj.bias"],
         "norm": w["vit.norm.weight"], "aligner_w1.weight": w["aligner.w1.weight"], "aligner_w1.bias": w["aligner.w1.bias"],
         "aligner_w2.weight": w["aligner.w2.weight"], "aligner_w2.bias": w["aligner.w2.bias"]}
    for i in range(c["vision_n_layers"]):
        p = f"vit.blocks.{i}."
        s.update({f"blocks.{i}.norm1": w[p + "norm1.weight"], f"blocks.{i}.norm2": w[p + "norm2.weight"],
                  f"blocks.{i}.wqkv.weight": w[p + "attn.wqkv.weight"], f"blocks.{i}.wqkv.bias": w[p + "attn.wqkv.bias"],
                  f"blocks.{i}.wo.weight": w[p + "attn.wo.weight"], f"blocks.{i}.wo.bias": w[p + "attn.wo.bias"],
                  f"blocks.{i}.w1.weight": w[p + "mlp.w1.weight"], f"blocks.{i}.w2.weight": w[p + "mlp.w2.weight"]})
    tower.load_state_dict(s)
    px = torch.from_numpy(t["pixels_chw"].copy())
    p = c["vision_patch_size"]
    gh, gw = px.shape[1] // p, px.shape[2] // p
    patches = px.view(3, gh, p, gw, p).permute(1, 3, 0, 2, 4).reshape(1, gh * gw, 3 * p * p)
    with torch.no_grad():
        feats = tower.encode(patches, gh, gw)
        aligned = tower.align(feats, gh, gw)
    ok = close("DeepSeek-ViT output", feats[0], t["vit_out"])
    ok &= close("aligner output", aligned[0], t["aligned"])
    for name in t:
        if name.startswith("nlayout.") and name.endswith(".types"):
            grid, start = name.split(".")[1], int(name.split(".")[2][len("start"):])
            h, w_ = map(int, grid.split("x"))
            types, perm = twin.image_block(h, w_, start)
            same = list(t[name]) == types and list(t[name[:-len("types")] + "perm"]) == perm
            ok &= same
            if not same:
                print(f"  image block {name}: differs")
    return ok


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32)
    d = sys.argv[1]
    ok = check_decoder(f"{d}/deepseek_v4_public.safetensors")
    ok &= check_vision(f"{d}/dsvit_public.safetensors")
    print("twin matches the goldens" if ok else "twin DIFFERS from the goldens")
    sys.exit(0 if ok else 1)
