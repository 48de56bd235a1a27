#!/usr/bin/env bash
# Benchmark: the cats vs dogs reference without its two cures (augmentation and Dropout), graded
# with the full profile (100 epochs of batch 20) on SEEDS seeds, PAR gradings at a time, on JAX.
# docs/measurements.md, "without augmentation and dropout: 20 seeds on a GPU", came from it:
#
#   PY=.venv/bin/python DATA=../shared/datasets OUT=/tmp/noaug DEVICE=gpu PAR=5 bash bench/cats_dogs_without_cures.sh
#
# Each seed's result.json (figures, per-epoch history, checks) ends in $OUT/results.tgz; a line
# per seed is printed. On a CPU use DEVICE=cpu PAR=1 (far slower; not timed here on JAX).
set -u
PY=${PY:-python3}; DATA=${DATA:-../shared/datasets}; OUT=${OUT:?set OUT to a folder}; EPOCHS=${EPOCHS:-100}; SEEDS=${SEEDS:-"1 2 3 4 5 6 7 8 9 10"}
PAR=${PAR:-5}; DEVICE=${DEVICE:-gpu}; W=${W:-$(mktemp -d)}
mkdir -p $W
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
$PY -m grader.cli data fetch cats_vs_dogs --data-dir $DATA 2>&1 | tail -2
$PY - <<PY
import re
s = open("challenges/cats_dogs.toml").read()
head, full = s.split("[profiles.full]")
full = re.sub(r"epochs = \d+", "epochs = $EPOCHS", full, count=1)
open("$W/spec.toml", "w").write(head + "[profiles.full]" + full)
ref = open("solutions/cats_dogs.py").read()
plain = ref.replace("        *augmentation_layers(),\n", "").replace("        layers.Dropout(0.5),\n", "")
assert plain.count("\n") == ref.count("\n") - 2, "the reference changed: update the two lines removed"
open("$W/cats_dogs_plain.py", "w").write(plain)
PY
grep -A3 "profiles.full" $W/spec.toml
start=$(date +%s)
for s in $SEEDS; do echo $s; done | xargs -P $PAR -I{} sh -c \
  "$PY -m grader.cli submit $W/cats_dogs_plain.py --challenge cats_dogs --spec $W/spec.toml --profile full \
   --seed {} --device $DEVICE --isolation none --json --out $W/seed-{} --data-dir $DATA > $W/seed-{}.json 2> $W/seed-{}.err; echo seed {} rc=\$?"
echo "all seeds: $(( $(date +%s) - start )) s"
mkdir -p $OUT/r
for s in $SEEDS; do cp $W/seed-$s.json $OUT/r/ 2>/dev/null; tail -3 $W/seed-$s.err; done
$PY - <<PY
import json, glob
for f in sorted(glob.glob("$OUT/r/seed-*.json"), key=lambda p: int(p.split("-")[-1][:-5])):
    try:
        r = json.load(open(f))
    except Exception as e:
        print(f, "unreadable", e); continue
    m = r.get("metrics") or {}
    h = r.get("history") or {}
    print(f.split("/")[-1], "test", m.get("test_accuracy"), "gap", m.get("gap"), "epochs", len(h.get("loss", [])), "score", r.get("score"))
PY
tar czf $OUT/results.tgz -C $OUT r && rm -rf $OUT/r
