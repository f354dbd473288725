#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# release_prompt_forms.sh PROGRAM CHECKPOINT: the example on a release-layout checkpoint, once with
# a text prompt and once with the same prompt as ids (hand-encoded for the miniature's tokenizer:
# BOS, User, the image placeholder, "\n\n", "hello world", Assistant, "</think>"), must generate
# the same tokens; both summaries are printed for ctest's pass pattern.
set -euo pipefail
program=$1 checkpoint=$2
generated() { sed 's/.*"generated":\[//; s/\].*//'; }
a=$("$program" --checkpoint "$checkpoint" --tokens 8 --prompt 'hello world' --json --overlay '')
b=$("$program" --checkpoint "$checkpoint" --tokens 8 --json --overlay '' \
  --prompt-ids 300,301,303,10,10,259,262,108,100,302,60,47,116,104,105,110,107,62)
echo "$a"
echo "$b"
[ -n "$(echo "$a" | generated)" ] && [ "$(echo "$a" | generated)" = "$(echo "$b" | generated)" ]
