#!/usr/bin/env bash
# The GPU rows of issue 27's training bench, on the device machine (after bench/gpu/build.sh, carry [.gpu-carry]):
#   bash bench/gpu/train-speed.sh [steps]
# apr WebGPU LoRA and QLoRA (rank 16 on q_proj,v_proj, ~1 B synthetic, 8 × 512 tokens a step), PEFT + torch bf16
# LoRA on the same shape and GPU (bench/gpu/peft_train.py), and a 7 B-shaped QLoRA step (512 tokens), each with
# the GPU's peak memory sampled by nvidia-smi every 100 ms; prints one table and writes $OUT/train-speed.json.
set -uo pipefail
STEPS=${1:-4}
OUT=${OUT:-$(mktemp -d)}
bash .gpu-carry/setup.sh >/dev/null 2>&1
. .gpu-carry/env.sh
A=.gpu-carry/app/train.mjs
peak() { # name, command...: runs the command while sampling GPU memory; the peak (MiB) goes to $OUT/mem-name.txt
  local name=$1; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/mem-$name.txt" & local p=$!
  "$@" > "$OUT/$name.json" 2> "$OUT/$name.err"; local rc=$?
  kill $p; wait $p 2>/dev/null
  [ $rc -eq 0 ] || { echo "$name failed (rc $rc):"; tail -3 "$OUT/$name.err"; }
}
peak apr-lora timeout 300 .gpu-carry/node $A --shape 1b --method lora --batch 8 --seq 512 --steps "$STEPS" --shape-out "$OUT/shape.json" --json
peak apr-qlora timeout 300 .gpu-carry/node $A --shape 1b --method qlora --batch 8 --seq 512 --steps "$STEPS" --json
peak peft-lora timeout 300 python3 bench/gpu/peft_train.py "$OUT/shape.json" "$STEPS"
peak apr-7b-qlora timeout 400 .gpu-carry/node $A --shape 7b --method qlora --batch 1 --seq 512 --steps 2 --json
peak apr-7b-qlora-8x512-ckpt timeout 500 .gpu-carry/node $A --shape 7b --method qlora --batch 8 --seq 512 --steps 1 --checkpoint --json
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    try: return json.loads(open(os.path.join(out, name + ".json")).read().strip().splitlines()[-1])
    except Exception: return None
def peak(name):
    try: return max(int(l) for l in open(os.path.join(out, "mem-" + name + ".txt")) if l.strip().isdigit())
    except Exception: return None
rows = {n: load(n) for n in ["apr-lora", "apr-qlora", "peft-lora", "apr-7b-qlora", "apr-7b-qlora-8x512-ckpt"]}
peft = (rows["peft-lora"] or {}).get("peft_tok_per_s")
print("| run | tok/s | ratio to PEFT LoRA | dispatches/step | peak GPU MiB (nvidia-smi) |")
print("|---|---|---|---|---|")
for n, r in rows.items():
    tok = None if r is None else r.get("tokPerS", r.get("peft_tok_per_s"))
    ratio = f"{tok / peft:.2f}" if tok and peft else "-"
    print(f"| {n} | {tok if tok is not None else 'failed'} | {ratio} | {(r or {}).get('dispatchesPerStep', '-')} | {peak(n)} |")
json.dump({"rows": rows, "peakMiB": {n: peak(n) for n in rows}}, open(os.path.join(out, "train-speed.json"), "w"))
PY
