# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Scores the shapes model on fresh scenes: exact count, and the share of the true shapes matched
one-to-one by a predicted box with IoU >= 0.5 (label ignored; a box with the wrong label still has
to be a box of a shape that was asked for, since only those are true).

  evaluate.py --cpp BINARY [--model DIR]   vprim's C++ (the example), one process per scene
  evaluate.py --twin STATE.pt              the trainer's torch model
  common: [--scenes 500] [--seed 7001] [--show 5] [--sides 168 336] [--counts 1 6]

The seed 7001 is not used in training (train.py draws from default_rng([seed, step])).
Beside the two scores it prints where boxes miss: each true shape by the best IoU of any
predicted box, how far the centres of the boxes meant for it are off (bias and spread) and
their size error, and the shapes in the image block's first row pair against the rest (those
tokens come before the first NEWLINE, so they cannot know the grid's width)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from vprim_shapes import scenes


def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


#: Lower edges of the IoU bands evaluate.py reports each true shape's closest box in.
IOU_BANDS = (0.5, 0.3, 0.1, 0.0)


def matched(truth, predicted, threshold=0.5):
    """Greedy one-to-one matching by IoU, best pairs first: how many true boxes found a match."""
    pairs = sorted(((iou(t, p), i, j) for i, t in enumerate(truth) for j, p in enumerate(predicted)), reverse=True)
    used_t, used_p, n = set(), set(), 0
    for v, i, j in pairs:
        if v < threshold:
            break
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            n += 1
    return n


def in_first_row_pair(scene, s):
    """Whether shape s's centre lies in the first two rows of merged image tokens: those come
    before the image block's first NEWLINE, so they cannot know the grid's width."""
    plan = scenes.plan(scene.width, scene.height)
    return scenes.centre_cell(scene, plan, s) // plan[5] < 2


def box_errors(scene, truth, box):
    """(x and y of the box's centre minus the shape's, mean absolute error of width and height),
    in the image's pixels."""
    sx, sy = scene.width / 999, scene.height / 999
    dx = ((box[0] + box[2]) - (truth[0] + truth[2])) / 2 * sx
    dy = ((box[1] + box[3]) - (truth[1] + truth[3])) / 2 * sy
    dw = ((box[2] - box[0]) - (truth[2] - truth[0])) * sx
    dh = ((box[3] - box[1]) - (truth[3] - truth[1])) * sy
    return dx, dy, (abs(dw) + abs(dh)) / 2


def cpp_runner(binary, model, workdir):
    def run(k, scene, question):
        png = os.path.join(workdir, f"scene{k}.png")
        scenes.write_png(png, scene.pixels)
        args = [binary, "--image", png, "--prompt", question, "--json", "--overlay", "", "--threads", "2"]
        if model:
            args += ["--checkpoint", model]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        report = json.loads(out)
        p = report["primitives"]
        return report["transcript"], [b for r in p["refs"] for b in r["boxes"]], p["answer"]
    return run


def twin_runner(state):
    import torch

    import export
    from vprim_shapes.vocab import Vocab
    torch.set_num_threads(2)
    model, vocab = export.load_model(state), Vocab()

    def run(k, scene, question):
        gen = export.greedy(model, vocab, scene.pixels, question)[5]
        text = vocab.decode([t for t in gen if t != 1])
        boxes, answer = [], None
        for part in text.split("<｜box｜>")[1:]:
            try:
                boxes.append([int(v) for v in part.split("]]")[0].strip("[").split(",")])
            except ValueError:
                pass
        if "\\boxed{" in text:
            answer = text.split("\\boxed{")[1].split("}")[0]
        return text, boxes, answer
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpp")
    ap.add_argument("--model")
    ap.add_argument("--twin")
    ap.add_argument("--scenes", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7001)
    ap.add_argument("--show", type=int, default=5)
    ap.add_argument("--sides", type=int, nargs=2, default=(scenes.MIN_SIDE, scenes.MAX_SIDE), help="image sides (a diagnostic)")
    ap.add_argument("--counts", type=int, nargs=2, default=(1, 6), help="shapes per scene (a diagnostic)")
    a = ap.parse_args()
    if bool(a.cpp) == bool(a.twin):
        sys.exit("evaluate.py: give one of --cpp BINARY and --twin STATE.pt")
    rng = np.random.default_rng(a.seed)
    with tempfile.TemporaryDirectory() as work:
        run = cpp_runner(a.cpp, a.model, work) if a.cpp else twin_runner(a.twin)
        exact = true_boxes = found = 0
        kinds = {}  # per kind of question: [scenes, exact, true boxes, found]
        closest = [0] * len(IOU_BANDS)  # true shapes by the best IoU of any predicted box
        errors = []  # per true shape with a box: (in the first row pair?, centre dx, dy px, size error px, IoU)
        for k in range(a.scenes):
            sc = scenes.make_scene(rng, *(int(rng.integers(a.sides[0], a.sides[1] + 1)) for _ in range(2)),
                                   count=int(rng.integers(a.counts[0], a.counts[1] + 1)))
            question, match = scenes.make_question(rng, sc)
            text, boxes, answer = run(k, sc, question)
            truth = [sc.normalised_box(s) for s in match]
            ok = answer == str(len(match))
            exact += ok
            true_boxes += len(truth)
            m = matched(truth, boxes)
            found += m
            for s, t in zip(match, truth):
                best = max((iou(t, p) for p in boxes), default=0.0)
                closest[next(i for i, lo in enumerate(IOU_BANDS) if best >= lo)] += 1
                if boxes:
                    errors.append((in_first_row_pair(sc, s), *box_errors(sc, t, max(boxes, key=lambda p: iou(t, p))), best))
            kind = "How many shapes?" if question == "How many shapes?" else \
                f"a colour and shape, {min(len(match), 2)}{'+' if len(match) >= 2 else ''} in the scene"
            tally = kinds.setdefault(kind, [0, 0, 0, 0])
            for i, v in enumerate((1, ok, len(truth), m)):
                tally[i] += v
            if k < a.show:
                print(f"scene {k}: {sc.width}x{sc.height}, {question} truth {len(match)} {truth}\n  -> {text}  [{'ok' if ok else 'WRONG'}, {m}/{len(truth)} boxes]")
    print(f"{a.scenes} scenes (seed {a.seed}): exact count {exact / a.scenes:.1%} ({exact}/{a.scenes}); "
          f"true shapes matched by a box with IoU >= 0.5: {found / max(1, true_boxes):.1%} ({found}/{true_boxes})")
    bands = ", ".join(f">= {lo:g}: {n / max(1, true_boxes):.1%}" for lo, n in zip(IOU_BANDS, closest))
    print(f"  true shapes by the best IoU of any predicted box (near misses against missing boxes): {bands}")
    e = np.array([x[1:] for x in errors]).reshape(-1, 4)
    e = e[e[:, 3] >= 0.1]  # boxes that were meant for the shape
    if len(e):
        print(f"  the best box of each true shape, where its IoU >= 0.1 ({len(e)}; median IoU {np.median(e[:, 3]):.2f}): its centre off by "
              f"x {e[:, 0].mean():+.1f} +- {e[:, 0].std():.1f} px, y {e[:, 1].mean():+.1f} +- {e[:, 1].std():.1f} px (mean +- sd), "
              f"its width and height by {np.median(e[:, 2]):.1f} px (median)")
    for first, where in ((True, "in the first row pair of image tokens"), (False, "below it")):
        f = np.array([x[1:] for x in errors if x[0] == first]).reshape(-1, 4)
        if len(f):
            print(f"  true shapes with their centre {where}: {len(f)}, IoU >= 0.5 {np.mean(f[:, 3] >= 0.5):.1%}, median "
                  f"distance of the best box's centre {np.median(np.hypot(f[:, 0], f[:, 1])):.1f} px")
    for kind, (n, ok, t, m) in sorted(kinds.items()):
        print(f"  {kind}: {n} scenes, exact count {ok / n:.1%}" + (f", boxes {m / t:.1%} ({m}/{t})" if t else ""))


if __name__ == "__main__":
    main()
