#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The approach the public re-implementations take (research note §7): regular expressions
over the decoded text, tolerant of whitespace, ints from the matched groups. Run on the same
~1 MiB transcript as bench_primitives' BM_parse_text, to put vprim's parser rate next to it.
Usage: python3 bench/peers/regex_parser.py"""
import re
import time

UNIT = ("I spot a <｜ref｜>bear<｜/ref｜><｜box｜>[[452,23,804,411]]<｜/box｜> clinging to a trunk. "
        "All of them: <｜ref｜>the men<｜/ref｜><｜box｜>[[30,120,110,200], [140,135,200,195], [225,150,300,215], "
        "[310,160,380,240]]<｜/box｜>. **Step2**: Moving left: <｜point｜>[[357,369],[260,372]]<｜/point｜> reaching "
        "<｜point｜>[[260,372]]<｜/point｜>. Path: <｜point｜>[[176,759],[230,779],[284,770],[331,741],[372,700],"
        "[410,652],[452,600],[500,551],[556,510],[618,478],[683,452],[745,433],[822,419]]<｜/point｜> \\boxed{5}\n")

BAR = "[|｜]"
REF_BOX = re.compile(f"<{BAR}ref{BAR}>(.*?)<{BAR}/ref{BAR}><{BAR}box{BAR}>(.*?)<{BAR}/box{BAR}>", re.S)
POINTS = re.compile(f"<{BAR}point{BAR}>(.*?)<{BAR}/point{BAR}>", re.S)
TUPLE = re.compile(r"\[\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\]")
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def parse(text):
    refs = [(label, [tuple(int(v) for v in t.split(",")) for t in TUPLE.findall(body)])
            for label, body in REF_BOX.findall(text)]
    points = [[tuple(int(v) for v in t.split(",")) for t in TUPLE.findall(body)] for body in POINTS.findall(text)]
    answers = BOXED.findall(text)
    return refs, points, answers[-1] if answers else None


def main():
    text = ""
    primitives = 0
    while len(text.encode()) < (1 << 20):
        text += UNIT
        primitives += 5
    nbytes = len(text.encode())
    parse(text)
    runs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3.0:
        parse(text)
        runs += 1
    dt = (time.perf_counter() - t0) / runs
    print(f"python regex parser: {dt * 1e3:.2f} ms per {nbytes} bytes = {nbytes / dt / 1e6:.1f} MB/s, "
          f"{primitives / dt / 1e6:.3f} M primitives/s")


if __name__ == "__main__":
    main()
