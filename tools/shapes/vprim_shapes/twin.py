# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The vision-primitive model in torch, written from research/deepseek_v4.md and the released
layout, for training: DeepSeek-ViT (2D RoPE) + the 3x3 aligner + the N-layout image block + a
DeepSeek-V4 decoder (sliding / CSA / HCA attention with sinks, compressors, the lightning indexer,
MoE with hash routing and bias_vl, mHC). Parameters carry the release's tensor names, so a
state_dict is a checkpoint vprim's C++ loader reads. fp32 math throughout (the "math" semantics of
the goldens: no FP8/FP4 simulation)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

# Image-block token types (vocab_size + type are their out-of-vocabulary ids).
START, PAD, IMAGE, NEWLINE, END = 0, 1, 2, 3, 4


def rms(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


# --- the vision tower -----------------------------------------------------------------------------

class VisionTower(nn.Module):
    """DeepSeek-ViT over one patch grid (batched: every image of a batch has the same grid) and the
    aligner. Patches are [B, gh*gw, 3*p*p], channel-major (c*p*p + y*p + x), row-major order."""

    def __init__(self, cfg):
        super().__init__()
        D, I, p, L = cfg["vision_dim"], cfg["vision_inter_dim"], cfg["vision_patch_size"], cfg["vision_n_layers"]
        self.heads, self.theta, self.merge, self.eps = cfg["vision_n_heads"], cfg["vision_rope_theta"], cfg["vision_downsample_ratio"], 1e-6
        self.patch_embed = nn.Linear(3 * p * p, D)
        self.blocks = nn.ModuleList()
        for _ in range(L):
            b = nn.Module()
            b.norm1, b.norm2 = nn.Parameter(torch.ones(D)), nn.Parameter(torch.ones(D))
            b.wqkv, b.wo = nn.Linear(D, 3 * D), nn.Linear(D, D)
            b.w1, b.w2 = nn.Linear(D, 2 * I, bias=False), nn.Linear(I, D, bias=False)
            self.blocks.append(b)
        self.norm = nn.Parameter(torch.ones(D))
        H = cfg["hidden_size"]
        self.aligner_w1 = nn.Linear(D * self.merge * self.merge, H)
        self.aligner_w2 = nn.Linear(H, H)

    def rope(self, gh, gw, head_dim):
        quarter = head_dim // 4
        inv = 1.0 / torch.pow(torch.tensor(float(self.theta), dtype=torch.float64),
                              torch.arange(0, quarter, dtype=torch.float64) * 2 / (head_dim // 2))
        inv = inv.float()
        ys = torch.arange(gh, dtype=torch.float32).repeat_interleave(gw)
        xs = torch.arange(gw, dtype=torch.float32).repeat(gh)
        ang = torch.cat([ys[:, None] * inv, xs[:, None] * inv], dim=1)  # [N, head_dim/2]
        return ang.cos(), ang.sin()

    def encode(self, patches, gh, gw):
        B, N, _ = patches.shape
        x = self.patch_embed(patches)
        D = x.shape[-1]
        hd = D // self.heads
        cos, sin = self.rope(gh, gw, hd)
        half = hd // 2

        def rot(t):  # t [B, N, H, hd]: pairs (i, i + hd/2)
            lo, hi = t[..., :half], t[..., half:]
            c, s = cos[None, :, None, :], sin[None, :, None, :]
            return torch.cat([lo * c - hi * s, hi * c + lo * s], dim=-1)

        for b in self.blocks:
            h = rms(x, b.norm1, self.eps)
            q, k, v = b.wqkv(h).view(B, N, 3, self.heads, hd).unbind(2)
            # heads as contiguous [B*H, N, hd] batches: torch's CPU bmm on the strided views an
            # einsum hands it ran ~6x slower, and this attention is most of a training step
            q = (rot(q) / math.sqrt(hd)).transpose(1, 2).reshape(B * self.heads, N, hd)  # scale the N queries, not N^2 logits
            kt = rot(k).permute(0, 2, 3, 1).reshape(B * self.heads, hd, N)
            v = v.transpose(1, 2).reshape(B * self.heads, N, hd)
            a = torch.softmax(torch.bmm(q, kt), dim=-1)
            o = torch.bmm(a, v).view(B, self.heads, N, hd).transpose(1, 2).reshape(B, N, D)
            x = x + b.wo(o)
            g, u = b.w1(rms(x, b.norm2, self.eps)).chunk(2, dim=-1)
            x = x + b.w2(F.silu(g) * u)
        return rms(x, self.norm, self.eps)

    def align(self, feats, gh, gw):
        """[B, gh*gw, D] -> [B, n_llm_h*n_llm_w, hidden], row-major merged grid."""
        B, _, D = feats.shape
        m = self.merge
        nh, nw = -(-gh // m), -(-gw // m)
        grid = feats.transpose(1, 2).reshape(B, D, gh, gw)
        grid = F.pad(grid, (0, nw * m - gw, 0, nh * m - gh))
        u = F.unfold(grid, kernel_size=m, stride=m).transpose(1, 2)  # [B, nh*nw, D*m*m], c*9 + ky*3 + kx
        return self.aligner_w2(F.gelu(self.aligner_w1(u)))

    def forward(self, patches, gh, gw):
        return self.align(self.encode(patches, gh, gw), gh, gw)


# --- the image block --------------------------------------------------------------------------------

def image_block(n_llm_h, n_llm_w, start_pos, align=4):
    """(types, perm) as vprim's build_image_block: lead PADs put START at 3 mod align; row pairs
    interleaved column by column, NEWLINE ending each row, an odd grid gets a PAD row; END."""
    lead = (align - 1) - start_pos % align
    rows, cols = n_llm_h + n_llm_h % 2, n_llm_w + 1
    pad_last = 2 if ((rows // 2) * cols) % 2 == 1 else 0
    types, perm = [PAD] * lead + [START], []
    for pair in range(0, rows, 2):
        for c in range(cols):
            for r in (pair, pair + 1):
                if r >= n_llm_h:
                    types.append(PAD)
                elif c == n_llm_w:
                    types.append(NEWLINE)
                else:
                    types.append(IMAGE)
                    perm.append(r * n_llm_w + c)
    return types + [PAD] * pad_last + [END], perm


# --- the decoder ----------------------------------------------------------------------------------------

def rope_inv_freq(theta, rope_dim, yarn=None):
    half = rope_dim // 2
    pos_freq = torch.pow(torch.tensor(float(theta)), torch.arange(half, dtype=torch.float32) * 2 / rope_dim)
    inv = 1.0 / pos_freq
    if yarn is None:
        return inv

    def corr(rot):
        return rope_dim * math.log(yarn["original_max_position_embeddings"] / (rot * 2 * math.pi)) / (2 * math.log(theta))
    low = max(math.floor(corr(yarn["beta_fast"])), 0.0)
    high = min(math.ceil(corr(yarn["beta_slow"])), rope_dim - 1.0)
    if low == high:
        high += 0.001
    ramp = torch.clamp(torch.tensor([(i - low) / (high - low) for i in range(half)], dtype=torch.float32), 0, 1)
    return 1.0 / (yarn["factor"] * pos_freq) * ramp + inv * (1 - ramp)


def rope_tail(x, pos, inv, inverse=False):
    """Interleaved pairs of the trailing 2*len(inv) channels of x rotate by pos * f: x is
    [B, S, d] or [B, S, H, d], pos [S]."""
    r = 2 * inv.numel()
    ang = pos.float()[:, None] * inv  # [S, r/2]
    if x.dim() == 4:
        ang = ang[:, None, :]
    c, s = ang.cos(), ang.sin()
    if inverse:
        s = -s
    head, tail = x[..., :-r], x[..., -r:]
    a, b = tail[..., 0::2], tail[..., 1::2]
    rotated = torch.stack([a * c - b * s, a * s + b * c], dim=-1).flatten(-2)
    return torch.cat([head, rotated], dim=-1)


class Compressor(nn.Module):
    def __init__(self, D, c, ratio, overlap, eps):
        super().__init__()
        coff = 2 if overlap else 1
        self.c, self.ratio, self.overlap, self.eps = c, ratio, overlap, eps
        self.wkv = nn.Linear(D, coff * c, bias=False)
        self.wgate = nn.Linear(D, coff * c, bias=False)
        self.ape = nn.Parameter(torch.zeros(ratio, coff * c))
        self.norm = nn.Parameter(torch.ones(c))

    def forward(self, x, inv):
        """x [B, L, D] from position 0 -> entries [B, L // ratio, c] (complete windows only)."""
        B, L, _ = x.shape
        m, c = self.ratio, self.c
        T = L // m
        if T == 0:
            return x.new_zeros(B, 0, c)
        C = self.wkv(x[:, :T * m]).view(B, T, m, -1)
        Z = (self.wgate(x[:, :T * m]).view(B, T, m, -1) + self.ape)
        if self.overlap:
            prevC = torch.cat([C.new_zeros(B, 1, m, c), C[:, :-1, :, :c]], dim=1)
            prevZ = torch.cat([Z.new_full((B, 1, m, c), float("-inf")), Z[:, :-1, :, :c]], dim=1)
            C = torch.cat([prevC, C[..., c:]], dim=2)
            Z = torch.cat([prevZ, Z[..., c:]], dim=2)
        Y = (torch.softmax(Z, dim=2) * C).sum(2)
        pos = torch.arange(T, device=x.device) * m
        return rope_tail(rms(Y, self.norm, self.eps), pos, inv)


class Indexer(nn.Module):
    def __init__(self, cfg, ratio):
        super().__init__()
        D, Rq = cfg["hidden_size"], cfg["q_lora_rank"]
        self.heads, self.dim, self.top_k = cfg["index_n_heads"], cfg["index_head_dim"], cfg["index_topk"]
        self.compressor = Compressor(D, self.dim, ratio, True, cfg["rms_norm_eps"])
        self.wq_b = nn.Linear(Rq, self.heads * self.dim, bias=False)
        self.weights_proj = nn.Linear(D, self.heads, bias=False)

    def scores(self, x, qr, pos, inv):
        """I(t, i) [B, L, T] over every entry (the caller masks the invisible ones)."""
        B, L, _ = x.shape
        keys = self.compressor(x, inv)
        q = rope_tail(self.wq_b(qr).view(B, L, self.heads, self.dim), pos, inv)
        w = self.weights_proj(x) * (self.heads ** -0.5) * (self.dim ** -0.5)
        # the head sum as a broadcast product, not a batched matmul of B*L [1 x heads] rows (slow on CPU)
        return (w[..., None] * F.relu(torch.einsum("blhd,btd->blht", q, keys))).sum(-2)


class Attention(nn.Module):
    def __init__(self, cfg, ratio):
        super().__init__()
        D, H, d = cfg["hidden_size"], cfg["num_attention_heads"], cfg["head_dim"]
        Rq, G, Ro = cfg["q_lora_rank"], cfg["o_groups"], cfg["o_lora_rank"]
        self.H, self.d, self.G, self.Ro, self.eps = H, d, G, Ro, cfg["rms_norm_eps"]
        self.window, self.ratio = cfg["sliding_window"], ratio
        self.wq_a, self.q_norm = nn.Linear(D, Rq, bias=False), nn.Parameter(torch.ones(Rq))
        self.wq_b = nn.Linear(Rq, H * d, bias=False)
        self.wkv, self.kv_norm = nn.Linear(D, d, bias=False), nn.Parameter(torch.ones(d))
        self.wo_a = nn.Linear(H * d // G, G * Ro, bias=False)  # [G*Ro, H*d/G]: group g uses rows g*Ro..
        self.wo_b = nn.Linear(G * Ro, D, bias=False)
        self.attn_sink = nn.Parameter(torch.zeros(H))
        rd = cfg["qk_rope_head_dim"]
        if ratio:
            self.compressor = Compressor(D, d, ratio, ratio == 4, self.eps)
            self.register_buffer("inv", rope_inv_freq(cfg["compress_rope_theta"], rd, cfg["rope_scaling"]), persistent=False)
        else:
            self.register_buffer("inv", rope_inv_freq(cfg["rope_theta"], rd), persistent=False)
        self.indexer = Indexer(cfg, ratio) if ratio == 4 else None
        self.index_loss = None  # set by forward when an indexer is trained
        self.keep_probs = False  # training: keep the attention probabilities in self.probs

    def forward(self, x):
        B, L, _ = x.shape
        H, d = self.H, self.d
        pos = torch.arange(L, device=x.device)
        qr = rms(self.wq_a(x), self.q_norm, self.eps)
        q = self.wq_b(qr).view(B, L, H, d)
        q = rope_tail(q * torch.rsqrt(q.pow(2).mean(-1, keepdim=True) + self.eps), pos, self.inv)
        kv = rope_tail(rms(self.wkv(x), self.kv_norm, self.eps), pos, self.inv)
        scale = d ** -0.5
        t, s = pos[:, None], pos[None, :]
        raw_ok = (s <= t) & (s > t - self.window)
        logits = torch.einsum("blhd,bsd->bhls", q, kv) * scale
        logits = logits.masked_fill(~raw_ok, float("-inf"))
        parts, values = [logits], [kv]
        if self.ratio:
            ent = self.compressor(x, self.inv)  # [B, T, d]
            T = ent.shape[1]
            visible = (torch.arange(T, device=x.device)[None, :] < (pos[:, None] + 1) // self.ratio)  # [L, T]
            el = torch.einsum("blhd,btd->bhlt", q, ent) * scale
            mask = visible[None].expand(B, L, T)
            if self.indexer is not None and T > 0:
                isc = self.indexer.scores(x, qr, pos, self.inv).masked_fill(~mask, float("-inf"))
                k = min(self.indexer.top_k, T)
                picked = torch.zeros_like(mask)
                picked.scatter_(2, isc.topk(k, dim=2).indices, True)
                self.index_loss = self._indexer_loss(el.detach(), isc, mask)
                mask = mask & picked
            parts.append(el.masked_fill(~mask[:, None], float("-inf")))
            values.append(ent)
        sink = self.attn_sink.view(1, H, 1, 1).expand(B, H, L, 1)
        p = torch.softmax(torch.cat(parts + [sink], dim=-1), dim=-1)[..., :-1]
        self.probs = p if self.keep_probs else None  # [B, H, L, L (raw positions first) + entries]
        o = torch.einsum("bhls,bsd->blhd", p, torch.cat(values, dim=1))
        o = rope_tail(o, pos, self.inv, inverse=True).reshape(B, L, self.G, H * d // self.G)
        wa = self.wo_a.weight.view(self.G, self.Ro, H * d // self.G)
        z = torch.einsum("blgi,gri->blgr", o, wa).reshape(B, L, self.G * self.Ro)
        return self.wo_b(z)

    @staticmethod
    def _indexer_loss(entry_logits, isc, mask):
        """KL(attention's own distribution over visible entries || the indexer's), summed over heads:
        trains the indexer (top-k gives it no gradient) to pick what the attention would read."""
        rows = mask.any(-1)  # queries that see at least one entry
        if not rows.any():
            return None
        target = torch.softmax(entry_logits.masked_fill(~mask[:, None], float("-inf")), dim=-1).nan_to_num(0).sum(1)
        target = target / target.sum(-1, keepdim=True).clamp_min(1e-9)
        logp = torch.log_softmax(isc, dim=-1)
        kl = (target * (target.clamp_min(1e-9).log() - logp.masked_fill(~mask, 0))).sum(-1)
        return kl[rows].mean()


class MoE(nn.Module):
    def __init__(self, cfg, hash_layer):
        super().__init__()
        D, E, I = cfg["hidden_size"], cfg["n_routed_experts"], cfg["moe_intermediate_size"]
        self.K, self.scale, self.limit, self.vocab = cfg["num_experts_per_tok"], cfg["routed_scaling_factor"], cfg["swiglu_limit"], cfg["vocab_size"]
        self.gate = nn.Linear(D, E, bias=False)
        self.register_buffer("bias_vl", torch.zeros(E))
        if hash_layer:
            self.register_buffer("tid2eid", torch.zeros(cfg["vocab_size"], self.K, dtype=torch.long))
            self.bias = None
        else:
            self.register_buffer("bias", torch.zeros(E))
        self.w1 = nn.Parameter(torch.empty(E, I, D))
        self.w3 = nn.Parameter(torch.empty(E, I, D))
        self.w2 = nn.Parameter(torch.empty(E, D, I))
        self.s1, self.s3 = nn.Linear(D, I, bias=False), nn.Linear(D, I, bias=False)
        self.s2 = nn.Linear(I, D, bias=False)
        for w in (self.w1, self.w3, self.w2):
            nn.init.normal_(w, std=D ** -0.5)
        self.load = None  # [E] tokens per expert of the last call (text, image), for bias balancing

    def swiglu(self, g, u):
        return F.silu(g.clamp(max=self.limit)) * u.clamp(-self.limit, self.limit)

    def forward(self, x, ids):
        u = self.gate(x)
        s = torch.sqrt(F.softplus(u))
        image = ids >= self.vocab
        with torch.no_grad():
            sel_vl = (s + self.bias_vl).topk(self.K, dim=-1).indices
            if self.bias is None:
                sel_text = self.tid2eid[ids.clamp(max=self.vocab - 1)]
            else:
                sel_text = (s + self.bias).topk(self.K, dim=-1).indices
            idx = torch.where(image[..., None], sel_vl, sel_text)
            E = s.shape[-1]
            onehot = F.one_hot(idx, E).sum(-2).float()  # [B, L, E]
            self.load = (onehot[~image].sum(0), onehot[image].sum(0))
        w = torch.gather(s, -1, idx)
        w = w / (w.sum(-1, keepdim=True) + 1e-20) * self.scale
        flat, routed = x.reshape(-1, x.shape[-1]), torch.zeros_like(x).reshape(-1, x.shape[-1])
        fidx, fw = idx.reshape(-1, self.K), w.reshape(-1, self.K)
        # unbound once: indexing w1[e] per expert makes autograd zero and add a whole [E, I, D] grad each time
        w1s, w2s, w3s = self.w1.unbind(0), self.w2.unbind(0), self.w3.unbind(0)
        for e in range(self.w1.shape[0]):  # each expert over the rows that picked it
            rows, slot = (fidx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            xe = flat[rows]
            ye = self.swiglu(xe @ w1s[e].t(), xe @ w3s[e].t()) @ w2s[e].t()
            routed = routed.index_add(0, rows, ye * fw[rows, slot][:, None])
        return routed.view_as(x) + self.s2(self.swiglu(self.s1(x), self.s3(x)))


class HyperConnection(nn.Module):
    def __init__(self, n, D, rows):
        super().__init__()
        self.fn = nn.Parameter(torch.randn(rows, n * D) * 0.01)
        self.base = nn.Parameter(torch.zeros(rows))
        self.scale = nn.Parameter(torch.ones(3 if rows > n else 1))

    def mix(self, X, eps):
        xf = X.flatten(-2)
        return (xf @ self.fn.t()) * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        D, n, V = cfg["hidden_size"], cfg["hc_mult"], cfg["vocab_size"]
        self.n, self.eps, self.hc_eps, self.iters = n, cfg["rms_norm_eps"], cfg["hc_eps"], cfg["hc_sinkhorn_iters"]
        self.embed = nn.Embedding(V, D)
        ratios = cfg["compress_ratios"][:cfg["num_hidden_layers"]]
        self.layers = nn.ModuleList()
        for i, r in enumerate(ratios):
            layer = nn.Module()
            layer.attn = Attention(cfg, r)
            layer.ffn = MoE(cfg, i < cfg["num_hash_layers"])
            layer.attn_norm, layer.ffn_norm = nn.Parameter(torch.ones(D)), nn.Parameter(torch.ones(D))
            layer.hc_attn, layer.hc_ffn = HyperConnection(n, D, (2 + n) * n), HyperConnection(n, D, (2 + n) * n)
            self.layers.append(layer)
        self.norm = nn.Parameter(torch.ones(D))
        self.head = nn.Linear(D, V, bias=False)
        self.hc_head = HyperConnection(n, D, n)
        self.image_sentinels = nn.Parameter(torch.randn(4, D) * 0.02)  # START, PAD, NEWLINE, END

    def hc_pre(self, X, hc):
        n = self.n
        mix = hc.mix(X, self.eps)
        pre = torch.sigmoid(mix[..., :n] * hc.scale[0] + hc.base[:n]) + self.hc_eps
        post = 2 * torch.sigmoid(mix[..., n:2 * n] * hc.scale[1] + hc.base[n:2 * n])
        A = (mix[..., 2 * n:] * hc.scale[2] + hc.base[2 * n:]).unflatten(-1, (n, n))
        A = torch.softmax(A, dim=-1) + self.hc_eps
        A = A / (A.sum(-2, keepdim=True) + self.hc_eps)
        for _ in range(self.iters - 1):
            A = A / (A.sum(-1, keepdim=True) + self.hc_eps)
            A = A / (A.sum(-2, keepdim=True) + self.hc_eps)
        return (pre[..., None] * X).sum(-2), post, A

    @staticmethod
    def hc_post(f, X, post, A):
        # A^T X per token as a broadcast product: a batched matmul of B*L [n x n] blocks is slow on CPU
        return post[..., None] * f[..., None, :] + (A[..., None] * X[..., None, :]).sum(-3)

    def hidden(self, emb, ids, tap=None):
        """The final normed hidden states; with `tap` = l, also keeps the mean of the streams after
        layer l in self.tapped (a training-time probe point)."""
        X = emb[:, :, None, :].expand(-1, -1, self.n, -1)
        for i, layer in enumerate(self.layers):
            h, post, A = self.hc_pre(X, layer.hc_attn)
            X = self.hc_post(layer.attn(rms(h, layer.attn_norm, self.eps)), X, post, A)
            h, post, A = self.hc_pre(X, layer.hc_ffn)
            X = self.hc_post(layer.ffn(rms(h, layer.ffn_norm, self.eps), ids), X, post, A)
            if i == tap:
                self.tapped = X.mean(-2)
        mix = self.hc_head.mix(X, self.eps)
        pre = torch.sigmoid(mix * self.hc_head.scale[0] + self.hc_head.base) + self.hc_eps
        return rms((pre[..., None] * X).sum(-2), self.norm, self.eps)

    def forward(self, emb, ids):
        return self.head(self.hidden(emb, ids))


class Model(nn.Module):
    """The whole model; `embed_inputs` builds the layer inputs of a batch of prompts with image
    blocks (ids there are vocab + type)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.vision = VisionTower(cfg)
        self.decoder = Decoder(cfg)

    def embed_inputs(self, ids, features, perm):
        """ids [B, L] (image-block ids >= vocab), features [B, count, hidden] row-major, perm (the
        N-layout order of the features) shared by the batch (one grid per batch)."""
        V = self.cfg["vocab_size"]
        image = ids >= V
        emb = self.decoder.embed(ids.masked_fill(image, 0))
        kinds = (ids - V).clamp(0, 4)
        sentinel_row = torch.tensor([0, 1, -1, 2, 3], device=ids.device)[kinds]  # START PAD - NEWLINE END
        sent = self.decoder.image_sentinels[sentinel_row.clamp(min=0)]
        emb = torch.where((image & (kinds != IMAGE))[..., None], sent, emb)
        img_pos = (kinds == IMAGE) & image
        ordered = features[:, perm]  # N-layout order
        emb = emb.clone()
        emb[img_pos] = ordered.reshape(-1, ordered.shape[-1])
        return emb

    def forward(self, patches, gh, gw, ids, perm):
        feats = self.vision(patches, gh, gw)
        return self.decoder(self.embed_inputs(ids, feats, perm), ids)
