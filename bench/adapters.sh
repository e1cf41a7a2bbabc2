#!/bin/sh
# The software adapters side by side, in one run: the kernel bench (--quick) and
# the gpt2-small-shaped forward+backward and `analyze` (bench/model.ts) on
# SwiftShader, then on lavapipe. Raw records: bench/results-{kernels,model}-ADAPTER.json.
#   sh bench/adapters.sh    (LAVAPIPE_ICD=FILE.json where lavapipe's manifest is not at a known path)
set -e
cd "$(dirname "$0")/.."
node scripts/build.mjs
lavapipe="BACKWARD_LENS_ADAPTER=lavapipe"
[ -n "${LAVAPIPE_ICD:-}" ] && lavapipe="BACKWARD_LENS_VK_ICD=$LAVAPIPE_ICD"
for a in swiftshader lavapipe; do
  if [ "$a" = lavapipe ]; then sel="$lavapipe"; else sel="BACKWARD_LENS_ADAPTER=swiftshader"; fi
  echo "=== $a ($sel) $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  env "$sel" node dist/bench/kernels.js --quick --json "bench/results-kernels-$a.json"
  env "$sel" node dist/bench/model.js --reps 3 --analyze-reps 1 --json "bench/results-model-$a.json"
done
