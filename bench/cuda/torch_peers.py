# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The torch peers of bench_cuda at the same shapes, timed the same way (CUDA events, median of
20 after 3 warm-ups): torch.matmul (cuBLAS), SDPA with the flash backend, torch.topk, and the
dense matmuls at the MoE's FLOPs, and an eager bf16 DeepSeek-ViT + aligner. Run beside ./build/bench/bench_cuda for the ratios."""
import torch


def time_ms(fn):
    for _ in range(3):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(20):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def report(name, ms, flops=0.0, nbytes=0.0):
    line = f"{name:<44} {ms:9.3f} ms"
    if flops:
        line += f"  {flops / ms / 1e9:8.1f} TFLOP/s"
    if nbytes:
        line += f"  {nbytes / ms / 1e6:8.1f} GB/s"
    print(line)


def eager_tower_ms(dev, side=756, width=1024, heads=16, layers=32, inter=2816, out_dim=4096, theta=10000.0):
    """DeepSeek-ViT + aligner written out in eager torch ops, bf16, random weights: the
    'torch eager tower' of issue 7 (RMSNorm, fused qkv, 2D RoPE, SDPA, SwiGLU, 3x3 unfold)."""
    bf = torch.bfloat16
    g = side // 14
    n, d = g * g, width // heads

    def lin(o, i):
        return torch.randn(o, i, device=dev, dtype=bf) * (i ** -0.5)

    blocks = [dict(qkv=lin(3 * width, width), wo=lin(width, width), w1=lin(2 * inter, width), w2=lin(width, inter))
              for _ in range(layers)]
    patch_w, m1, m2 = lin(width, 3 * 14 * 14), lin(out_dim, 9 * width), lin(out_dim, out_dim)
    # 2D RoPE: the first half of each pair set turns with the row, the second with the column
    f = theta ** (-torch.arange(0, d // 4, device=dev, dtype=torch.float64) * 2 / (d // 2))
    rows = torch.arange(n, device=dev) // g
    cols = torch.arange(n, device=dev) % g
    ang = torch.cat([rows[:, None] * f, cols[:, None] * f], dim=1)  # [n, d/2]
    cos, sin = ang.cos().to(bf), ang.sin().to(bf)

    def rope(x):  # x [n, h, d], pairs (i, i + d/2)
        a, b = x[..., : d // 2], x[..., d // 2:]
        c, s_ = cos[:, None, :], sin[:, None, :]
        return torch.cat([a * c - b * s_, b * c + a * s_], dim=-1)

    def rms(x):
        return torch.nn.functional.rms_norm(x, (width,), eps=1e-6)

    image = torch.randn(3, side, side, device=dev, dtype=bf)

    def forward():
        p = image.unfold(1, 14, 14).unfold(2, 14, 14).permute(1, 2, 0, 3, 4).reshape(n, -1)
        x = p @ patch_w.t()
        for b in blocks:
            qkv = (rms(x) @ b["qkv"].t()).view(n, 3, heads, d)
            q, k = rope(qkv[:, 0]), rope(qkv[:, 1])
            o = torch.nn.functional.scaled_dot_product_attention(
                q.transpose(0, 1)[None], k.transpose(0, 1)[None], qkv[:, 2].transpose(0, 1)[None])
            x = x + o[0].transpose(0, 1).reshape(n, width) @ b["wo"].t()
            gate, up = (rms(x) @ b["w1"].t()).chunk(2, dim=-1)
            x = x + (torch.nn.functional.silu(gate) * up) @ b["w2"].t()
        x = rms(x).view(g, g, width).permute(2, 0, 1)[None]
        u = torch.nn.functional.unfold(x, 3, stride=3)[0].t()  # [n/9, width*9], channel-major
        return torch.nn.functional.gelu(u @ m1.t()) @ m2.t()

    with torch.no_grad():
        return time_ms(forward)


def pixel_path_ms(dev, out_w, out_h, fit_w, fit_h, mean, std, w=1920, h=1080):
    """The torch way to the same tensor: u8 upload done, to float, antialiased bicubic
    (F.interpolate), pad to the canvas, normalise."""
    import torch.nn.functional as F
    img = torch.randint(0, 256, (1, 3, h, w), device=dev, dtype=torch.uint8)
    m = torch.tensor(mean, device=dev).view(1, 3, 1, 1)
    s = torch.tensor(std, device=dev).view(1, 3, 1, 1)
    x0, y0 = (out_w - fit_w) // 2, (out_h - fit_h) // 2

    def run():
        x = F.interpolate(img.float(), size=(fit_h, fit_w), mode="bicubic", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255)
        x = F.pad(x, (x0, out_w - fit_w - x0, y0, out_h - fit_h - y0), value=127.0)
        return (x / 255.0 - m) / s
    return time_ms(run)


def main():
    dev = torch.device("cuda")
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    m = 2916
    for k, n in [(588, 1024), (1024, 3072), (1024, 1024), (1024, 5632), (2816, 1024), (9216, 4096)]:
        a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
        report(f"torch.matmul bf16 {m}x{k}x{n}", time_ms(lambda: a @ w.t()), 2.0 * m * n * k)
    # Targets as bench_cuda prints them for 1920x1080 (Vision-Exp letterbox; Qwen2-VL smart resize).
    for name, (ow, oh, fw, fh, mean, std) in {
            "letterbox (Vision-Exp)": (1036, 588, 1036, 583, (0.5,) * 3, (0.5,) * 3),
            "smart resize (Qwen2-VL)": (1092, 588, 1092, 588, (0.48145466, 0.4578275, 0.40821073),
                                        (0.26862954, 0.26130258, 0.27577711))}.items():
        report(f"torch pixels: 1920x1080 {name}", pixel_path_ms(dev, ow, oh, fw, fh, mean, std), 0,
               1920 * 1080 * 3 + 12.0 * ow * oh)
    n, heads, d = 2916, 16, 64
    q, k_, v = (torch.randn(1, heads, n, d, device=dev, dtype=torch.bfloat16) for _ in range(3))
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        report("sdpa flash N=2916 16x64", time_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k_, v)),
               4.0 * n * n * d * heads)
    cols = (1 << 20) // 4
    for rows in (64, 1024):
        s = torch.randn(rows, cols, device=dev)
        report(f"torch.topk 512 of {cols}, {rows} rows", time_ms(lambda: torch.topk(s, 512, dim=1)), 0, 4.0 * rows * cols)
    dim, inter, top_k = 4096, 2048, 6
    for tokens in (324, 4096):
        rows = tokens * top_k
        a1 = torch.randn(rows, dim, device=dev, dtype=torch.bfloat16)
        w1 = torch.randn(2 * inter, dim, device=dev, dtype=torch.bfloat16)
        a2 = torch.randn(rows, inter, device=dev, dtype=torch.bfloat16)
        w2 = torch.randn(dim, inter, device=dev, dtype=torch.bfloat16)
        report(f"torch dense matmul, MoE FLOPs, {tokens} tokens", time_ms(lambda: (a1 @ w1.t(), a2 @ w2.t())),
               2.0 * rows * 3 * dim * inter)
    ms = eager_tower_ms(dev)
    report("torch eager DeepSeek-ViT + aligner, 756x756", ms)
    print(f"{'':<44} {1000.0 / ms:9.1f} images/s")


if __name__ == "__main__":
    main()
