# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""Training batches: scenes of one size per batch (so the tower runs batched), their prompts in the
release's chat format with the image block expanded as vprim expands it, and the answers."""

import numpy as np
import torch

from vprim_shapes import scenes, twin
from vprim_shapes.vocab import EOS

PROMPT = "<｜begin▁of▁sentence｜><｜User｜><｜deepseek_image｜>\n\n{q}<｜Assistant｜></think>"


def prompt_ids(vocab, question, n_llm_h, n_llm_w, vocab_size):
    """Text ids with the image placeholder replaced by the block's ids (vocab_size + type);
    -> (ids, block_begin, perm)."""
    ids = vocab.encode(PROMPT.format(q=question))
    at = ids.index(vocab.id["<｜deepseek_image｜>"])
    types, perm = twin.image_block(n_llm_h, n_llm_w, at)
    return ids[:at] + [vocab_size + t for t in types] + ids[at + 1:], at, perm


class Batch:
    pass


NO_OBJECT = len(scenes.COLOURS) * len(scenes.SHAPES)  # the class of a cell with no shape's centre


def pointing_targets(vocab, ids, ans, scene, match, plan, perm, V, from_ref=False):
    """Training-only: for each answer token that belongs to the j-th box (its label words through
    its last coordinate; with `from_ref` also its `<|ref|>`, where the answer decides that a j-th
    matching shape exists), (the position predicting it, the position of the image token holding
    box j's centre): where the answer should look."""
    image_at = [t for t, i in enumerate(ids) if i == V + twin.IMAGE]  # N-layout order
    slot = {cell: image_at[n] for n, cell in enumerate(perm)}
    out, j, inside = [], -1, False
    for k, tok in enumerate(ans):
        if tok == vocab.id["<｜ref｜>"]:
            j, inside = j + 1, True
            if not from_ref:
                continue
        if inside:
            out.append((len(ids) - 1 + k, slot[scenes.centre_cell(scene, plan, match[j])]))
            inside = vocab.tokens[ans[k + 1]] != "]]"  # the last coordinate ends the box's span
    return out


def cell_targets(scene, plan, cell=42, box_cells="centre"):
    """Training-only dense targets per merged token (row-major): the class (colour x shape, or
    NO_OBJECT) and 0..1 box of the shape whose centre falls in the token's 42 x 42 px cell, the same
    box's edges relative to the cell's centre in cells (what the translation-invariant tower can
    see), the cell centre's position in the image (0..1, may fall outside on padding), and which
    cells have a box target: the centre cells, or with box_cells="cover" also every cell that a
    shape's box covers by a quarter (of the cell, or of the box if smaller; the nearest shape's
    box), so that a token beside the centre one holds the same box and attention that spills onto
    it copies the same coordinates."""
    tw, th, _, _, nh, nw = plan
    fw, fh, x0, y0 = scenes.letterbox_fit(scene.width, scene.height, tw, th)
    cls = np.full(nh * nw, NO_OBJECT, dtype=np.int64)
    box = np.zeros((nh * nw, 4), dtype=np.float32)
    local = np.zeros((nh * nw, 4), dtype=np.float32)
    has_box = np.zeros(nh * nw, dtype=bool)
    sx, sy = fw / scene.width, fh / scene.height
    if box_cells == "cover":
        r, c = np.divmod(np.arange(nh * nw), nw)
        ccx, ccy, best = (c + 0.5) * cell, (r + 0.5) * cell, np.full(nh * nw, np.inf)
        for s in scene.shapes:
            bx0, by0, bx1, by1 = x0 + s.box[0] * sx, y0 + s.box[1] * sy, x0 + s.box[2] * sx, y0 + s.box[3] * sy
            ox = np.clip(np.minimum(ccx + cell / 2, bx1) - np.maximum(ccx - cell / 2, bx0), 0, None)
            oy = np.clip(np.minimum(ccy + cell / 2, by1) - np.maximum(ccy - cell / 2, by0), 0, None)
            covered = ox * oy >= 0.25 * min(cell * cell, (bx1 - bx0) * (by1 - by0))
            dist = np.hypot(ccx - (bx0 + bx1) / 2, ccy - (by0 + by1) / 2)
            take = covered & (dist < best)
            best[take], has_box[take] = dist[take], True
            box[take] = np.array(scene.normalised_box(s), dtype=np.float32) / 999
    for s in scene.shapes:
        k = scenes.centre_cell(scene, plan, s, cell)
        r, c = divmod(k, nw)
        cls[k] = list(scenes.COLOURS).index(s.colour) * len(scenes.SHAPES) + scenes.SHAPES.index(s.kind)
        box[k], has_box[k] = np.array(scene.normalised_box(s), dtype=np.float32) / 999, True
        bx0, by0, bx1, by1 = s.box
        ccx, ccy = (c + 0.5) * cell, (r + 0.5) * cell
        local[k] = np.array([x0 + bx0 * sx - ccx, y0 + by0 * sy - ccy, x0 + bx1 * sx - ccx, y0 + by1 * sy - ccy], dtype=np.float32) / cell
    r, c = np.divmod(np.arange(nh * nw), nw)
    pos = np.stack([((c + 0.5) * cell - x0) / fw, ((r + 0.5) * cell - y0) / fh], axis=1).astype(np.float32)
    return cls, box, pos, local, has_box


def balanced_question(rng, scene, all_share=0.4):
    """Training only: like scenes.make_question, but a question naming a colour and a shape has
    none, one or several matches equally often (among those the scene allows). The evaluation's
    mix (make_question) asks for a class with exactly one match 64% of the time, and a model
    trained on it learnt to answer every such question with one box, looking or not."""
    if rng.random() < all_share:
        return "How many shapes?", scene.reading_order(scene.shapes)
    seen = {}
    for s in scene.shapes:
        seen[(s.colour, s.kind)] = seen.get((s.colour, s.kind), 0) + 1
    absent = [(c, k) for c in scenes.COLOURS for k in scenes.SHAPES if (c, k) not in seen]
    buckets = [b for b in (absent, [c for c, n in seen.items() if n == 1], [c for c, n in seen.items() if n > 1]) if b]
    bucket = buckets[rng.integers(len(buckets))]
    colour, kind = bucket[rng.integers(len(bucket))]
    match = [s for s in scene.shapes if s.colour == colour and s.kind == kind]
    return f"How many {colour} {kind}s?", scene.reading_order(match)


def make_batch(rng, size, vocab, cfg, sides=(scenes.MIN_SIDE, scenes.MAX_SIDE), counts=(1, 6), point_from_ref=False,
               questions="eval", all_share=0.4, box_cells="centre"):
    """`size` scenes of one random image size. Targets: next-token ids over the answer (and EOS),
    -100 elsewhere; `coord` holds the 0..999 value a target number stands for (-1 if none).
    `questions`: "eval" asks as the evaluation does (scenes.make_question), "balanced" as
    balanced_question, "How many shapes?" with odds `all_share`. `box_cells`: as cell_targets."""
    ask = scenes.make_question if questions == "eval" else lambda r, sc: balanced_question(r, sc, all_share)
    W, H = (int(rng.integers(sides[0], sides[1] + 1)) for _ in range(2))
    V = cfg["vocab_size"]
    rows, patches, truth, cells, points = [], [], [], [], []
    for _ in range(size):
        sc = scenes.make_scene(rng, W, H, count=int(rng.integers(counts[0], counts[1] + 1)))
        q, match = ask(rng, sc)
        px, p = scenes.patches_of(sc.pixels, max_tokens=cfg["vision_max_n_token"])
        ids, begin, perm = prompt_ids(vocab, q, p[4], p[5], V)
        ans = vocab.encode(scenes.answer_text(sc, match)) + [EOS]
        rows.append((ids, ans))
        points.append(pointing_targets(vocab, ids, ans, sc, match, p, perm, V, point_from_ref))
        patches.append(px)
        truth.append((sc, q, match))
        cells.append(cell_targets(sc, p, box_cells=box_cells))
    L = max(len(i) + len(a) for i, a in rows)
    b = Batch()
    b.gh, b.gw, b.block_begin, b.perm = p[2], p[3], begin, perm
    b.patches = torch.from_numpy(np.stack(patches))
    b.ids = torch.full((size, L), EOS, dtype=torch.long)
    b.targets = torch.full((size, L), -100, dtype=torch.long)
    b.coord = torch.full((size, L), -1, dtype=torch.long)
    for r, (ids, ans) in enumerate(rows):
        seq = ids + ans
        b.ids[r, :len(seq)] = torch.tensor(seq)
        b.targets[r, len(ids) - 1:len(seq) - 1] = torch.tensor(ans)
        for k, tok in enumerate(ans):
            text = vocab.tokens[tok]
            if text.isdigit() and ans[k - 1] in (vocab.id["[["], vocab.id[","]):
                b.coord[r, len(ids) - 1 + k] = int(text)
    b.cell_cls = torch.tensor(np.stack([c[0] for c in cells]))
    b.cell_box = torch.tensor(np.stack([c[1] for c in cells]))
    b.cell_pos = torch.tensor(np.stack([c[2] for c in cells]))
    b.cell_local = torch.tensor(np.stack([c[3] for c in cells]))
    b.cell_has_box = torch.tensor(np.stack([c[4] for c in cells]))
    b.point = torch.tensor([(r, t, s) for r, pts in enumerate(points) for t, s in pts], dtype=torch.long).view(-1, 3)
    b.prompt_len = [len(i) for i, _ in rows]
    b.truth = truth
    return b
