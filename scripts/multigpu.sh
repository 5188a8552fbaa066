#!/usr/bin/env bash
# Run N workers of any batch entry module on one eval list, one per GPU, each with --shard i/N.
#
#   GPUS="0 1 2 3" bash scripts/multigpu.sh MODULE [flags for the module...]
#   GPUS="0 1" bash scripts/multigpu.sh submodular_attribution.smdl_explanation_imagenet_superpixel \
#       --eval-list datasets/imagenet/val.txt --Datasets datasets/imagenet/ILSVRC2012_img_val
#
# Environment:
#   GPUS     space-separated GPU ids (default "0"); "cpu" entries run CPU workers
#   PYTHON   interpreter (default: the repo's .venv/bin/python when present, else python3)
#   LOG_DIR  worker logs <LOG_DIR>/worker<i>.log (default logs/<module>)
# Each worker gets --shard i/N (a contiguous block of the selected lines) and --device. Workers on one run
# folder also claim samples, so launching this twice, or next to torchrun/SLURM workers, computes no sample
# twice; re-running the same command resumes. Under SLURM or torchrun you need no script: every entry module
# reads SLURM_PROCID/SLURM_NTASKS, SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or RANK/WORLD_SIZE itself.
# Exit status 1 when a worker failed or a sample failed (see the run folder's errors.jsonl and --status).
set -euo pipefail
if [[ $# -lt 1 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,19p' "$0"; exit 0; fi
MODULE=$1; shift
REPO=$(cd "$(dirname "$0")/.." && pwd)
GPUS=${GPUS:-0}
LOG_DIR=${LOG_DIR:-logs/${MODULE##*.}}
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
# the workers' own sharding must not also read a launcher's environment
unset RANK WORLD_SIZE SLURM_PROCID SLURM_NTASKS SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN
read -r -a gpu_ids <<< "$GPUS"
count=${#gpu_ids[@]}
mkdir -p "$LOG_DIR"
pids=()
for i in "${!gpu_ids[@]}"; do
  gpu=${gpu_ids[$i]}
  if [[ "$gpu" == "cpu" ]]; then device=cpu; visible=""; else device=cuda; visible=$gpu; fi
  echo "worker $i: shard $i/$count on $gpu (log $LOG_DIR/worker$i.log)"
  CUDA_VISIBLE_DEVICES=$visible TOOLKIT_PROGRESS=plain "$PYTHON" -m "$MODULE" --shard "$i/$count" \
    --device "$device" "$@" > "$LOG_DIR/worker$i.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status -eq 0 ]]; then echo "all workers finished"; else echo "a worker failed: see $LOG_DIR" >&2; fi
exit $status
