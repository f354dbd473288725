# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The shapes task's scenes, deterministic per seed: an RGB image 168..336 px per side on a plain
light background or a two-colour gradient, with 1..6 non-overlapping filled circles, squares and
triangles (24..80 px across) in six named colours; a question; the answer in the release's syntax.
Also the model's pixel path (the Vision-Exp resize rule with ImageOps.pad's letterbox, bicubic
a = -0.5 as PIL, normalised to [-1, 1]) and a PNG writer, so that nothing outside numpy is needed."""

import functools
import math
import struct
import zlib

import numpy as np

COLOURS = {"red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220),
           "yellow": (230, 200, 30), "purple": (140, 60, 180), "orange": (245, 140, 30)}
SHAPES = ("circle", "square", "triangle")
MIN_SIDE, MAX_SIDE = 168, 336
MIN_SIZE, MAX_SIZE = 24, 80


class Shape:
    def __init__(self, kind, colour, x0, y0, size):
        self.kind, self.colour, self.x0, self.y0, self.size = kind, colour, x0, y0, size

    @property
    def box(self):  # pixel edges [x0, y0, x1, y1), float
        return (self.x0, self.y0, self.x0 + self.size, self.y0 + self.size)

    def label(self):
        return f"{self.colour} {self.kind}"


class Scene:
    def __init__(self, width, height, pixels, shapes):
        self.width, self.height, self.pixels, self.shapes = width, height, pixels, shapes

    def normalised_box(self, s):
        """round(px / size * 999), clamped: the primitives' 0..999 convention."""
        x0, y0, x1, y1 = s.box

        def n(v, size):
            return int(min(999, max(0, round(v / size * 999))))
        return [n(x0, self.width), n(y0, self.height), n(x1, self.width), n(y1, self.height)]

    def reading_order(self, shapes):
        return sorted(shapes, key=lambda s: (s.y0, s.x0))


def _coverage(kind, xs, ys, x0, y0, size):
    """Fraction of each pixel inside the shape, from 4x4 samples per pixel (antialiased edges)."""
    off = (np.arange(4) + 0.5) / 4
    sx = (xs[None, :, None, None] + off[None, None, None, :])
    sy = (ys[:, None, None, None] + off[None, None, :, None])
    u, v = (sx - x0) / size, (sy - y0) / size  # 0..1 inside the bounding square
    if kind == "circle":
        inside = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    elif kind == "square":
        inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    else:  # upright triangle: apex at the top centre, base along the bottom edge
        inside = (v <= 1) & (v >= 0) & (np.abs(u - 0.5) <= v / 2)
    return inside.mean(axis=(2, 3))


def make_scene(rng, width=None, height=None, count=None, sizes=(MIN_SIZE, MAX_SIZE)):
    W = int(width if width is not None else rng.integers(MIN_SIDE, MAX_SIDE + 1))
    H = int(height if height is not None else rng.integers(MIN_SIDE, MAX_SIDE + 1))
    n = int(count if count is not None else rng.integers(1, 7))
    light = lambda: rng.integers(185, 256, size=3).astype(np.float64)  # noqa: E731
    if rng.random() < 0.5:
        img = np.broadcast_to(light(), (H, W, 3)).copy()
    else:
        a, b = light(), light()
        ang = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:H, 0:W]
        t = (xx * math.cos(ang) + yy * math.sin(ang))
        t = (t - t.min()) / max(1e-9, t.max() - t.min())
        img = a * (1 - t[..., None]) + b * t[..., None]
    shapes = []
    for _ in range(200):
        if len(shapes) == n:
            break
        size = float(rng.integers(sizes[0], sizes[1] + 1))
        x0, y0 = rng.uniform(1, W - size - 1), rng.uniform(1, H - size - 1)
        if any(x0 < s.x0 + s.size + 4 and s.x0 < x0 + size + 4 and y0 < s.y0 + s.size + 4 and s.y0 < y0 + size + 4
               for s in shapes):
            continue
        shapes.append(Shape(SHAPES[rng.integers(3)], list(COLOURS)[rng.integers(6)], x0, y0, size))
    for s in shapes:
        xa, ya = int(s.x0), int(s.y0)
        xb, yb = min(W, int(math.ceil(s.x0 + s.size)) + 1), min(H, int(math.ceil(s.y0 + s.size)) + 1)
        cov = _coverage(s.kind, np.arange(xa, xb, dtype=np.float64), np.arange(ya, yb, dtype=np.float64), s.x0, s.y0, s.size)
        col = np.array(COLOURS[s.colour], dtype=np.float64) + rng.integers(-15, 16, size=3)
        img[ya:yb, xa:xb] = img[ya:yb, xa:xb] * (1 - cov[..., None]) + col * cov[..., None]
    return Scene(W, H, np.clip(np.rint(img), 0, 255).astype(np.uint8), shapes)


def make_question(rng, scene):
    """-> (question, matching shapes in reading order). Half ask for all shapes; the others name a
    colour and a shape, present in the scene two times in three."""
    if rng.random() < 0.5:
        return "How many shapes?", scene.reading_order(scene.shapes)
    if scene.shapes and rng.random() < 2 / 3:
        pick = scene.shapes[rng.integers(len(scene.shapes))]
        colour, kind = pick.colour, pick.kind
    else:
        colour, kind = list(COLOURS)[rng.integers(6)], SHAPES[rng.integers(3)]
    match = [s for s in scene.shapes if s.colour == colour and s.kind == kind]
    return f"How many {colour} {kind}s?", scene.reading_order(match)


def answer_text(scene, matches):
    parts = [f"<｜ref｜>{s.label()}<｜/ref｜><｜box｜>[[{','.join(map(str, scene.normalised_box(s)))}]]<｜/box｜>"
             for s in matches]
    return "".join(parts) + "\\boxed{" + str(len(matches)) + "}"


# --- the pixel path -------------------------------------------------------------------------------

def _block_tokens(nh, nw):
    return nh * (nw + 1) + 2 + ((nw + 1) if nh % 2 else 0) + (2 if ((nh + 1) // 2 * (nw + 1)) % 2 else 0)


def plan(width, height, patch=14, merge=3, max_tokens=50, reserved=3):
    """The Vision-Exp rule (research/release_format.md), for sizes this task uses (no aspect clamp,
    no upscaling: refused otherwise) -> (target_w, target_h, n_vit_h, n_vit_w, n_llm_h, n_llm_w).
    Large images are re-solved to a smaller grid, as the release does."""
    if width > 8 * height or height > 8 * width:
        raise ValueError(f"{width}x{height}: the aspect clamp is not ported")

    def grid(tw, th):
        gh, gw = th // patch, tw // patch
        nh, nw = -(-gh // merge), -(-gw // merge)
        return (tw, th, gh, gw, nh, nw), _block_tokens(nh, nw)
    w, h = float(width), float(height)
    out, block = grid(math.ceil(w / patch) * patch, math.ceil(h / patch) * patch)
    limit, b, cell = max_tokens - reserved, max_tokens - reserved, patch * merge
    while block > limit:
        ws = math.sqrt((b - 2) / (h / w) + 0.25) - 0.5
        hs = ws * (h / w)
        if ws < 1 or hs < 2:
            raise ValueError(f"{width}x{height}: the one-row/one-column branches are not ported")
        mw, mh = math.floor(ws), math.floor(hs)
        mh -= mh % 2
        beta = min(mw * cell / w, mh * cell / h)
        out, block = grid(math.floor(w * beta / patch) * patch, math.floor(h * beta / patch) * patch)
        b -= 1
    return out


def centre_cell(scene, plan, s, cell=42):
    """Row-major index of the merged token whose 42 x 42 px cell holds the centre of shape s
    (plan: as plan() returns it)."""
    tw, th, _, _, nh, nw = plan
    fw, fh, x0, y0 = letterbox_fit(scene.width, scene.height, tw, th)
    cx = x0 + (s.x0 + s.size / 2) * fw / scene.width
    cy = y0 + (s.y0 + s.size / 2) * fh / scene.height
    return min(nh - 1, int(cy // cell)) * nw + min(nw - 1, int(cx // cell))


def _bicubic(x):
    a = -0.5
    x = abs(x)
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


@functools.lru_cache(maxsize=None)
def _resize_matrix(n_in, n_out):
    """PIL's bicubic taps (support widened when shrinking) as an [n_out, n_in] matrix."""
    scale = n_in / n_out
    fscale = max(scale, 1.0)
    support = 2.0 * fscale
    M = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo, hi = max(0, int(centre - support + 0.5)), min(n_in, int(centre + support + 0.5))
        w = np.array([_bicubic((j - centre + 0.5) / fscale) for j in range(lo, hi)])
        M[i, lo:hi] = w / w.sum()
    return M


def letterbox_fit(W, H, out_w, out_h):
    """Where ImageOps.pad puts a W x H image in out_w x out_h: (fitted w, fitted h, x0, y0)."""
    im, dest = W / H, out_w / out_h
    fw, fh = out_w, out_h
    if im > dest:
        fh = round(H / W * out_w)
    elif im < dest:
        fw = round(W / H * out_h)
    return fw, fh, round((out_w - fw) * 0.5), round((out_h - fh) * 0.5)


def letterbox(pixels, out_w, out_h, fill=127):
    """ImageOps.pad: aspect-preserving bicubic fit, centred (Python's round), fill colour."""
    H, W, _ = pixels.shape
    fw, fh, x0, y0 = letterbox_fit(W, H, out_w, out_h)
    if (fw, fh) == (W, H):
        fitted = pixels
    else:
        # horizontal pass, then vertical, each rounded to 8 bits as PIL does
        cols = pixels.astype(np.float64) if fw == W else np.clip(np.rint(np.tensordot(pixels.astype(np.float64), _resize_matrix(W, fw), axes=([1], [1])).transpose(0, 2, 1)), 0, 255)
        fitted = cols if fh == H else np.clip(np.rint(np.tensordot(_resize_matrix(H, fh), cols, axes=([1], [0]))), 0, 255)
    out = np.full((out_h, out_w, 3), fill, dtype=np.float64)
    out[y0:y0 + fh, x0:x0 + fw] = fitted
    return out


def patches_of(pixels, patch=14, max_tokens=50):
    """uint8 HWC -> (patches [gh*gw, 3*p*p] float32 in [-1, 1], channel-major; plan)."""
    p = plan(pixels.shape[1], pixels.shape[0], patch, max_tokens=max_tokens)
    tw, th, gh, gw = p[:4]
    x = (letterbox(pixels, tw, th) / 255.0 - 0.5) / 0.5
    x = x.transpose(2, 0, 1).reshape(3, gh, patch, gw, patch).transpose(1, 3, 0, 2, 4).reshape(gh * gw, 3 * patch * patch)
    return x.astype(np.float32), p


def write_png(path, pixels):
    """8-bit RGB, one zlib stream, no filters."""
    H, W, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(H))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
