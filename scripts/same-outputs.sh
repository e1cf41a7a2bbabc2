#!/usr/bin/env bash
# Do two builds write the same bytes? Builds BASE_REV in a temporary git worktree,
# runs the same commands with it and with this checkout's build, and compares every
# output: analyze --json/--html of the default model, analyze --json of a random
# gpt2-small-shaped checkpoint, a factors export, edit --out weights (shift, sgd on
# two modules, adam) and an eval over 5 records (original, shift, sgd; records.jsonl
# without its timings). One line per output; exit status 1 when any differs. The
# commands' messages go to OUT/{base,new}.log, kept when something differs.
#   scripts/same-outputs.sh BASE_REV [DATA_DIR]
# DATA_DIR (default ../shared/data) holds counterfact/ and wikitext-2-raw/.
set -euo pipefail
base_rev=${1:?usage: scripts/same-outputs.sh BASE_REV [DATA_DIR]}
root=$(git rev-parse --show-toplevel)
data=$(cd "${2:-$root/../shared/data}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/same-outputs.XXXXXX")
cleanup() {
  git -C "$root" worktree remove --force "$work/base-tree" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" worktree add --quiet --detach "$work/base-tree" "$base_rev"
ln -s "$root/node_modules" "$work/base-tree/node_modules"
(cd "$work/base-tree" && node scripts/build.mjs >/dev/null)
(cd "$root" && node scripts/build.mjs >/dev/null)

# The shaped checkpoint is an input: written once, by the base build.
node "$work/base-tree/dist/bench/shaped-checkpoint.js" --shape small --dtype F16 --out "$work/small" >/dev/null

PROMPT='Lionel Messi plays for'
TARGET=' Paris'
# run NAME TREE: every command with TREE's build, outputs under $work/NAME.
run() {
  local name=$1 out=$work/$1 cli=$2/dist/cli.js log=$work/$1.log
  mkdir -p "$out"
  bl() { node "$cli" "$@" >/dev/null 2>>"$log" || { echo "failed ($name build): backward-lens $*" >&2; tail -5 "$log" >&2; exit 1; }; }
  bl analyze --prompt "$PROMPT" --target "$TARGET" --json "$out/analyze.json" --html "$out/analyze.html"
  bl analyze --model "$work/small" --prompt 'The capital of France is' --target ' Paris' --layers 0,11 --json "$out/analyze-small.json"
  bl factors --prompt "$PROMPT" --target "$TARGET" --out "$out/factors.safetensors"
  bl edit --prompt "$PROMPT" --target "$TARGET" --method shift --out "$out/edit-shift"
  bl edit --prompt "$PROMPT" --target "$TARGET" --method sgd --layers 1,3 --modules mlp.c_fc,mlp.c_proj --out "$out/edit-sgd"
  bl edit --prompt "$PROMPT" --target "$TARGET" --method adam --layers 2 --out "$out/edit-adam"
  bl eval --records 0-4 --method original --method shift:layers=2,lr=0.5 --method sgd:layers=2,lr=1 \
    --data "$data/counterfact/counterfact-train.json" --wikitext "$data/wikitext-2-raw/wiki.test.raw" --out "$out/eval"
  # Wall-clock milliseconds differ between any two runs; everything else must not.
  node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)) { const r = JSON.parse(l); delete r.ms; console.log(JSON.stringify(r)); }' \
    "$out/eval/records.jsonl" >"$out/eval-records.jsonl"
}
run base "$work/base-tree"
run new "$root"

status=0
for f in analyze.json analyze.html analyze-small.json factors.safetensors \
  edit-shift/model.safetensors edit-shift/config.json edit-sgd/model.safetensors edit-adam/model.safetensors \
  eval-records.jsonl; do
  if cmp -s "$work/base/$f" "$work/new/$f"; then echo "same     $f ($(wc -c <"$work/new/$f") bytes)"; else echo "DIFFERS  $f"; status=1; fi
done
if [ $status -ne 0 ]; then keep=$(mktemp -d "${TMPDIR:-/tmp}/same-outputs-kept.XXXXXX"); cp -r "$work/base" "$work/new" "$work"/*.log "$keep"/; echo "outputs and logs kept in $keep"; fi
exit $status
