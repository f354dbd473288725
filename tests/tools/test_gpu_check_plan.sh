#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The GPU plan's runner, against fake steps (no GPU needed): a step killed at its limit still
# leaves its log and its summary line, a step that no longer fits the budget is skipped and says
# so, the steps after a failure still run, and the dry run lists the plan.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/plan" <<'PLAN'
# name|limit_s|command
fast|10|echo fast done
slow|2|echo slow started; sleep 30; echo never printed
broken|10|echo broken ran; exit 5
too long|100|echo must not run
skipped by itself|10|echo nothing to check here; exit 3
last|10|echo last done
PLAN
fail() { echo "test_gpu_check_plan: $*" >&2; echo "--- summary:"; cat "$work/logs/summary.txt" 2>/dev/null; exit 1; }
rc=0
VPRIM_GPU_PLAN="$work/plan" VPRIM_GPU_BUDGET_S=40 VPRIM_GPU_LOGS="$work/logs" "$root/scripts/gpu-check.sh" run >"$work/out" 2>&1 || rc=$?
cat "$work/out"
[ $rc -ne 0 ] || fail "a failed and a timed-out step must fail the run"
s="$work/logs/summary.txt"
[ "$(wc -l <"$s")" -eq 6 ] || fail "expected one summary line per step"
grep -q '^PASS  *fast ' "$s" || fail "fast did not pass"
grep -q '^TIMEOUT  *slow  *[23]s  *slow.txt' "$s" || fail "slow was not reported as TIMEOUT after its 2 s limit"
grep -q 'slow started' "$work/logs/slow.txt" || fail "the killed step's log lost what it printed"
! grep -q 'never printed' "$work/logs/slow.txt" || fail "slow ran past its limit"
grep -q '^FAIL  *broken .*(exit 5)' "$s" || fail "broken was not reported with its exit status"
grep -q '^SKIP  *too long .*budget: [0-9]*s left, the step needs up to 100s' "$s" || fail "too long was not skipped for the budget"
[ ! -e "$work/logs/too_long.txt" ] || fail "a skipped step ran"
grep -q '^SKIP  *skipped by itself ' "$s" || fail "exit 3 is a skip"
grep -q '^PASS  *last ' "$s" || fail "the steps after a failure did not run"
grep -q 'last done' "$work/logs/last.txt" || fail "last wrote no log"
VPRIM_GPU_PLAN="$work/plan" "$root/scripts/gpu-check.sh" plan >"$work/plan_out"
grep -q '^  2\. slow  *2s' "$work/plan_out" || fail "the dry run does not list slow second with its limit"
grep -q '^6 steps, 142s of limits in all' "$work/plan_out" || fail "the dry run does not total the plan"
echo "test_gpu_check_plan: passed"
