#!/bin/bash
# Cold `grade check` of the fashion reference: the kit at another commit (OLD, a worktree) against
# this checkout, alternating, 3 times each; seconds of the whole command and the verdict.
#   git worktree add /tmp/old <commit> && bench/check_rehearsal_cost.sh /tmp/old
# Results: bench/results.md ("What the check's rehearsal costs").
set -u
old=${1:?the folder of the other commit's worktree}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cd "$work"
for i in 1 2 3; do
  for which in old new; do
    if [ $which = old ]; then root=$old; else root=$here; fi
    s=$(date +%s.%N)
    PYTHONPATH=$root "$here/.venv/bin/python" -m grader.cli check "$root/solutions/fashion.py" --json \
      > "$work/check_$which.json" 2>/dev/null
    e=$(date +%s.%N)
    echo "$which $(echo "$e - $s" | bc) $(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(d['score'],d['verdict'])" "$work/check_$which.json")"
  done
done
rm -rf "$work"
