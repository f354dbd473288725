# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The torch peers of bench_cuda at the same shapes, timed the same way (CUDA events, median of
20 after 3 warm-ups): torch.matmul (cuBLAS), SDPA with the flash backend, torch.topk, and the
dense matmuls at the MoE's FLOPs. Run beside ./build/bench/bench_cuda for the ratios."""
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


def main():
    dev = torch.device("cuda")
    print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    m = 2916
    for k, n in [(588, 1024), (1024, 3072), (1024, 1024), (1024, 5632), (2816, 1024), (9216, 4096)]:
        a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
        report(f"torch.matmul bf16 {m}x{k}x{n}", time_ms(lambda: a @ w.t()), 2.0 * m * n * k)
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


if __name__ == "__main__":
    main()
