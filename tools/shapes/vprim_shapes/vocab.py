# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
"""The shapes model's own vocabulary, written as a tokenizer.json of the release's kind (byte-level
BPE with DeepSeek's pre-tokenizer, the chat and primitive tags as added tokens), so vprim's codec
reads it as it reads the release's. Every piece the task's text splits into is one whole token
(`ignore_merges`); the 256 byte symbols make any other text spellable. `encode` cuts the task's
text exactly as the codec does (the C++ test checks that on the shipped prompts)."""

import json
import re

from vprim_shapes.scenes import COLOURS, SHAPES

ADDED = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
         "<｜deepseek_image｜>", "<｜ref｜>", "<｜/ref｜>", "<｜box｜>", "<｜/box｜>", "<｜point｜>", "<｜/point｜>"]
BOS, EOS = 0, 1


def _byte_symbols():
    """GPT-2's byte-level alphabet: byte -> printable character."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


BYTE = _byte_symbols()


def spell(text):
    return "".join(BYTE[b] for b in text.encode("utf-8"))


def _pieces():
    words = ["How", " many", " shapes", "\n\n", "[[", "]]", "\\boxed"]
    for c in COLOURS:
        words += [" " + c, c]
    for s in SHAPES:
        words += [" " + s, " " + s + "s"]
    return words + [str(n) for n in range(10, 1000)]


class Vocab:
    def __init__(self):
        self.tokens = list(ADDED) + [BYTE[b] for b in range(256)]
        self.tokens += [p for p in map(spell, _pieces()) if p not in self.tokens]
        self.id = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def to_json(self):
        split = lambda rx: {"type": "Split", "pattern": {"Regex": rx}, "behavior": "Isolated", "invert": False}  # noqa: E731
        return json.dumps({
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                              "normalized": False, "special": True} for i, t in enumerate(ADDED)],
            "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                split("\\p{N}{1,3}"), split("[一-龥\u3040-ゟ゠-ヿ]+"),
                split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                      " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                      "vocab": {t: i for i, t in enumerate(self.tokens) if i >= len(ADDED)}, "merges": []},
        }, ensure_ascii=False, indent=1)

    # The task's text is ASCII letters, digits, spaces, newlines and ?[],\{}: DeepSeek's splits on
    # that alphabet are: 1-3 digits; a backslash word; an optional non-letter then letters; a
    # space then punctuation run; newlines; spaces.
    _SPLIT = re.compile(r"[0-9]{1,3}|\\[A-Za-z]+|[^\r\nA-Za-z?\[\],\\{}]?[A-Za-z]+| ?[?\[\],\\{}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

    def encode(self, text):
        ids, i = [], 0
        added = sorted(ADDED, key=len, reverse=True)
        while i < len(text):
            hit = next((a for a in added if text.startswith(a, i)), None)
            if hit:
                ids.append(self.id[hit])
                i += len(hit)
                continue
            j = min([text.find(a, i) for a in added if text.find(a, i) >= 0] or [len(text)])
            for piece in self._pieces_of(text[i:j]):
                sym = spell(piece)
                ids += [self.id[sym]] if sym in self.id else [self.id[c] for c in sym]
            i = j
        return ids

    def _pieces_of(self, text):
        # digits first (their own split), then the rest of each run
        out = []
        for part in re.split(r"([0-9]{1,3})", text):
            if part:
                out += [m.group(0) for m in self._SPLIT.finditer(part)] if not part.isdigit() else [part]
        return out

    def decode(self, ids):
        inv = {v: k for k, v in BYTE.items()}
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            out += t.encode() if i < len(ADDED) else bytes(inv[c] for c in t)
        return out.decode("utf-8", errors="replace")
