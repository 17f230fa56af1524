#!/usr/bin/env bash
# The CUDA checks of dialsum as one run, each step under its own time limit, the whole within a budget
# (BUDGET, 530 s by default: about 9 minutes on an H100). On the CUDA machine, from the working tree that
# holds .gpu-bundle/ (built by ../shared/gpu-check/prepare.sh on the development machine):
#
#     bash .gpu-bundle/run.sh bash bench/cuda_check.sh
#
# run.sh installs the wheels, the core and most plugins into /tmp/site; this script adds the plugins it
# leaves out (dialsum-data, which dialsum-modes needs, and dialsum-launch), then:
#
#   tests          pytest plugins/dialsum-hf/tests, the 4-bit and 8-bit QLoRA tests included
#   models         two random Llamas of the reported size (855M parameters: hidden 2048, 16 layers,
#                  16 heads, intermediate 5632, an 8k BPE vocabulary trained on dev.csv), saved in bf16:
#                  one without the #Tag# tokens (as a downloaded model), one with them
#   bench          bench/train_throughput.py --4bit on the reported setting (400 dialogues of dev.csv,
#                  one epoch, batch 8, max_length 1024): dialsum adds the tags (the report's case); then
#                  the same on the model that holds them (--no-new-tokens: both sides read the same ids)
#   cli            dialsum check + dialsum run recipes/gpu/solar-qlora.toml on the model without tags,
#                  run.debug = true (32 dialogues, one epoch), ROUGE on whitespace tokens (kiwipiepy's
#                  model is not on the machine)
#   variants       while the budget lasts: the bench with the grown matrices padded to 64 rows
#                  (--pad-vocab 64), then with dialsum's other differences from the plain script undone
#
# Each step prints a header, writes its output to $OUT/<step>.log (OUT: run.sh's folder, else gpu-out/),
# and the end prints (and writes to $OUT/summary.txt) each step's exit code and seconds with the bench's
# result lines. A step that would start with less than NEED seconds of the budget left (20 s; 100 s for
# the variants, which would not finish in less) is skipped.
#
# Environment (for a dry run elsewhere, e.g. on a CPU with a tiny model):
#   STEPS        the steps to run, in the order above (default: "install tests models bench cli variants")
#   MODEL_FLAGS  the random model's size (default: the reported 855M Llama)
#   EXTRA_SET    further KEY=VALUE overrides for the CLI run, space-separated
#   PYTHON       the interpreter (default python3); WORK: the scratch folder (default /tmp/dialsum-cuda)
set -u -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
out=${OUT:-$root/gpu-out}
work=${WORK:-/tmp/dialsum-cuda}
data=${DIALSUM_SHARED_DATA:-$root/../shared/data}/dialogsum-ko
budget=${BUDGET:-530}
steps=" ${STEPS:-install tests models bench cli variants} "
py=${PYTHON:-python3}
read -r -a model_flags <<< "${MODEL_FLAGS:---hidden 2048 --layers 16 --heads 16 --intermediate 5632 --vocab 8000}"
read -r -a extra_set <<< "${EXTRA_SET:-}"
mkdir -p "$out" "$work"
summary=()
need=20

wanted() { [[ $steps == *" $1 "* ]]; }

# step NAME LIMIT COMMAND...: COMMAND under `timeout`, at most LIMIT seconds and what is left of the budget
step() {
  local name=$1 limit=$2 left rc started status
  shift 2
  left=$((budget - SECONDS))
  if ((left < need)); then
    printf '\n===== %s: skipped, %s s of the budget left\n' "$name" "$left"
    summary+=("$(printf '%-22s skipped (budget spent)' "$name")")
    return 0
  fi
  ((limit > left)) && limit=$left
  printf '\n===== %s (limit %s s, %s s into the run)\n$ %s\n' "$name" "$limit" "$SECONDS" "$*"
  started=$SECONDS
  timeout --kill-after=15 "$limit" "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  case $rc in
    0) status=ok ;;
    124 | 137) status="TIMED OUT after $limit s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  summary+=("$(printf '%-22s %-26s %4s s' "$name" "$status" "$((SECONDS - started))")")
  return 0
}

printf '===== dialsum CUDA check, %s\n' "$(date -u +%FT%TZ)"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

if wanted install; then
  step install 90 "$py" -m pip install -q --no-index --no-deps --no-build-isolation --upgrade --target /tmp/site \
    plugins/dialsum-data plugins/dialsum-launch
fi

if wanted tests; then
  step hf-tests 150 "$py" -m pytest -q -rfEs -p no:cacheprovider -o addopts="" --durations=5 plugins/dialsum-hf/tests
fi

if wanted models; then
  for tags in new-tokens no-new-tokens; do
    step "model-$tags" 90 "$py" bench/train_throughput.py --family llama --train-csv "$data/dev.csv" \
      "${model_flags[@]}" "--$tags" --save-model "$work/llama-$tags"
  done
fi

bench=("$py" bench/train_throughput.py --4bit --train-csv "$data/dev.csv" --rows 400 --epochs 1 --batch-size 8
  --max-length 1024 --max-target-length 128 --repeats 1)
if wanted bench; then
  step bench-4bit 170 "${bench[@]}" --model "$work/llama-new-tokens"
  step bench-4bit-same-ids 150 "${bench[@]}" --model "$work/llama-no-new-tokens"
fi

if wanted cli; then
  if command -v dialsum > /dev/null; then dialsum=(dialsum); else dialsum=("$py" -m dialsum_core); fi
  sets=()
  for kv in "models.solar-10.7b.model_name_or_path=$work/llama-new-tokens" "data.train_path=$data/dev.csv" \
    "data.dev_path=" "data.test_path=$data/test.csv" run.debug=true metrics.rouge.tokenizer=whitespace \
    metrics.bleu.tokenizer=whitespace "run.output_dir=$work/experiments" ${extra_set[@]+"${extra_set[@]}"}; do
    sets+=(--set "$kv")
  done
  step cli-check 60 "${dialsum[@]}" check recipes/gpu/solar-qlora.toml "${sets[@]}"
  step cli-run 200 "${dialsum[@]}" run recipes/gpu/solar-qlora.toml "${sets[@]}"
  # the run's small files (results, logs, predictions); checkpoints stay behind
  if [ -d "$work/experiments" ]; then
    (cd "$work/experiments" && find . -path '*/checkpoints' -prune -o -type f -size -2M -print |
      while read -r f; do mkdir -p "$out/cli-run/$(dirname "$f")" && cp "$f" "$out/cli-run/$f"; done)
  fi
fi

if wanted variants; then
  need=100
  # which of the new tokens' costs: their count (8,015 rows, no multiple of 8) or peft's wrapper
  step bench-4bit-pad-vocab 150 "${bench[@]}" --model "$work/llama-new-tokens" --pad-vocab 64
  # the same ids and every other difference undone: pinned memory, random order, logging, checkpoint
  step bench-4bit-like-plain 150 "${bench[@]}" --model "$work/llama-no-new-tokens" --pin-memory --random-order \
    --set train.logging_steps=500 --set train.save_checkpoints=false
fi

{
  printf '\n===== summary (%s s of a %s s budget)\n' "$SECONDS" "$budget"
  printf '%s\n' "${summary[@]}"
  for log in "$out"/bench-*.log; do
    [ -f "$log" ] || continue
    printf -- '--- %s\n' "$(basename "$log" .log)"
    grep -E '^(new tokens|ratio|step loop|outside|padded|peak|tokens per run|dialsum training|plain )' "$log"
  done
} | tee "$out/summary.txt"
! grep -qE 'FAILED|TIMED OUT' "$out/summary.txt"
