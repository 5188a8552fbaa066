#!/usr/bin/env bash
# Split an eval list across GPUs and run one SMDL entry module per GPU, in parallel.
#
#   GPUS="0 1" EVAL_LIST=datasets/imagenet/val.txt DATASETS=datasets/imagenet/ILSVRC2012_img_val \
#     bash scripts/smdl_multigpu.sh [extra flags for the entry module...]
#
# Environment:
#   GPUS       space-separated GPU ids (default "0"); "cpu" entries run CPU workers
#   MODULE     entry module (default submodular_attribution.smdl_explanation_imagenet_superpixel)
#   EVAL_LIST  eval list file or "demo" (default demo);  DATASETS  image root (default .)
#   PYTHON     interpreter (default: the repo's .venv/bin/python when present, else python3)
# Each worker gets ceil(n/G) consecutive lines (the last one runs through the last line). Finished samples
# are skipped, so re-running the same command resumes; logs go to <LOG_DIR>/worker<i>.log (default logs/smdl).
# Relative paths are relative to where you run the script. Exit status 1 when a worker failed or a sample
# failed (see the run folder's errors.jsonl).
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,15p' "$0"; exit 0; fi
REPO=$(cd "$(dirname "$0")/.." && pwd)
GPUS=${GPUS:-0}
MODULE=${MODULE:-submodular_attribution.smdl_explanation_imagenet_superpixel}
EVAL_LIST=${EVAL_LIST:-demo}
DATASETS=${DATASETS:-.}
LOG_DIR=${LOG_DIR:-logs/smdl}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
read -r -a gpu_ids <<< "$GPUS"
ranges_text=$("$PYTHON" -m scripts.shard --eval-list "$EVAL_LIST" --shards "${#gpu_ids[@]}") || exit 2
mapfile -t ranges <<< "$ranges_text"
if [[ -z "${ranges[0]:-}" ]]; then echo "error: EVAL_LIST=$EVAL_LIST has no samples" >&2; exit 2; fi
mkdir -p "$LOG_DIR"
pids=()
for i in "${!ranges[@]}"; do
  read -r begin end <<< "${ranges[$i]}"
  gpu=${gpu_ids[$i]}
  if [[ "$gpu" == "cpu" ]]; then device=cpu; visible=""; else device=cuda; visible=$gpu; fi
  echo "worker $i: lines $begin..$end on $gpu (log $LOG_DIR/worker$i.log)"
  CUDA_VISIBLE_DEVICES=$visible "$PYTHON" -m "$MODULE" --Datasets "$DATASETS" --eval-list "$EVAL_LIST" \
    --begin "$begin" --end "$end" --device "$device" --no-progress "$@" > "$LOG_DIR/worker$i.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status -eq 0 ]]; then echo "all workers finished"; else echo "a worker failed: see $LOG_DIR" >&2; fi
exit $status
