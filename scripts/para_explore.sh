#!/usr/bin/env bash
# Grid over models x the 12 attribution methods, and LA's {10,20,30}^3 hyper-parameter grid (the original
# para_explore.sh). Every configuration runs local_attribution.generate_attributions then evals.eval_la with
# the SAME parameters (the original forgot --samples_number, so its LA evals always read sampling-times-20).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/para_explore.sh [--help]

Runs, for every model in MODELS:
  * the 11 baselines (BASELINES): generate_attributions + eval_la -> $BASELINE_CSV
  * LA for every (spatial_range, max_iter, sampling_times) in SPATIAL_RANGES x MAX_ITERS x SAMPLING_TIMES:
    generate_attributions + eval_la with all three parameters -> $LA_CSV
Finished files are skipped (attributions .npy, scores .npz) and CSV rows are never duplicated, so the
script can be re-run after a crash. Interrupted attribution runs resume from <file>.partial/.

Environment (defaults in brackets):
  MODELS           models to run ["efficientnet_lite0"]; e.g. "resnet50 vgg16 inception_v3 maxvit_t"
  WEIGHTS_DIR      folder of torchvision weights; for model M the first of M.pth, M-*.pth is passed as
                   --weights [unset: no --weights; efficientnet_lite0 needs none]
  BASELINES        ["agi mfaba attexplore ig fast_ig guided_ig big sg sm deeplift eg"]; "" = LA grid only
  SPATIAL_RANGES   ["10 20 30"]    MAX_ITERS ["10 20 30"]    SAMPLING_TIMES ["10 20 30"]; SPATIAL_RANGES="" = no LA
  DATA             folder with img_batch.pt/label_batch.pt [data]; when missing it is made from EVAL_LIST
  EVAL_LIST        eval list (or "demo") used to make DATA when it is missing [demo]
  DATASETS         --Datasets root of EVAL_LIST [.]
  ATTR_PREFIX      [attributions]   SCORE_PREFIX [scores]
  LA_CSV           [results_la.csv] BASELINE_CSV [results_baseline.csv]
  DEVICE           --device for both steps [cpu]; with GPUS it is forced to cuda
  CUDA_VISIBLE_DEVICES  honoured as usual when GPUS is unset
  GPUS             e.g. "0 1": configurations are dealt round-robin to one background worker per GPU
                   (each worker runs its share one after the other with CUDA_VISIBLE_DEVICES=<gpu>);
                   the script waits for all workers and fails if one failed. Logs: $LOG_DIR/gpu<id>.log
  LOG_DIR          [logs/para_explore]
  PYTHON           interpreter [.venv/bin/python when present, else python]
  DRY_RUN=1        print the commands instead of running them
EOF
}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then usage; exit 0; fi
if [[ $# -gt 0 ]]; then echo "error: unknown argument $1 (configure with environment variables; see --help)" >&2; exit 2; fi

cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
MODELS=${MODELS:-efficientnet_lite0}
BASELINES=${BASELINES-agi mfaba attexplore ig fast_ig guided_ig big sg sm deeplift eg}
SPATIAL_RANGES=${SPATIAL_RANGES-10 20 30}
MAX_ITERS=${MAX_ITERS-10 20 30}
SAMPLING_TIMES=${SAMPLING_TIMES-10 20 30}
DATA=${DATA:-data}
EVAL_LIST=${EVAL_LIST:-demo}
DATASETS=${DATASETS:-.}
ATTR_PREFIX=${ATTR_PREFIX:-attributions}
SCORE_PREFIX=${SCORE_PREFIX:-scores}
LA_CSV=${LA_CSV:-results_la.csv}
BASELINE_CSV=${BASELINE_CSV:-results_baseline.csv}
DEVICE=${DEVICE:-cpu}
GPUS=${GPUS:-}
LOG_DIR=${LOG_DIR:-logs/para_explore}
DRY_RUN=${DRY_RUN:-0}

if [[ -n "$GPUS" ]]; then DEVICE=cuda; fi

run() {  # run (or print) one command
  if [[ "$DRY_RUN" == 1 ]]; then echo "${CUDA_VISIBLE_DEVICES:+CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES }$*"; else "$@"; fi
}

weights_args() {  # --weights FILE for model $1 when WEIGHTS_DIR holds it
  local model=$1 file
  [[ -z "${WEIGHTS_DIR:-}" ]] && return 0
  for file in "$WEIGHTS_DIR/$model.pth" "$WEIGHTS_DIR/$model"-*.pth; do
    if [[ -f "$file" ]]; then printf -- '--weights\n%s\n' "$file"; return 0; fi
  done
  echo "error: WEIGHTS_DIR=$WEIGHTS_DIR has no $model.pth or $model-*.pth" >&2
  return 1
}

# One configuration = "model method [s K T]". Generation and evaluation get exactly the same parameters.
run_config() {
  local model=$1 method=$2 s=${3:-} k=${4:-} t=${5:-}
  local -a weights=() la_gen=() la_eval=()
  mapfile -t weights < <(weights_args "$model")
  local csv=$BASELINE_CSV
  if [[ "$method" == la ]]; then
    la_gen=(--spatial_range "$s" --max_iter "$k" --sampling_times "$t")
    la_eval=(--spatial_range "$s" --max_iter "$k" --samples_number "$t")
    csv=$LA_CSV
  fi
  run "$PYTHON" -m local_attribution.generate_attributions --model "$model" --attr_method "$method" "${la_gen[@]}" \
      --prefix "$ATTR_PREFIX" --data "$DATA" --device "$DEVICE" --no-progress "${weights[@]}"
  run "$PYTHON" -m evals.eval_la --model "$model" --attr_method "$method" "${la_eval[@]}" \
      --prefix "$SCORE_PREFIX" --attr_prefix "$ATTR_PREFIX" --csv_path "$csv" --data "$DATA" --device "$DEVICE" \
      --no-progress "${weights[@]}"
}

CONFIGS=()
for model in $MODELS; do
  weights_args "$model" > /dev/null  # fail early on a missing weights file
  for method in $BASELINES; do CONFIGS+=("$model $method"); done
  for s in $SPATIAL_RANGES; do for k in $MAX_ITERS; do for t in $SAMPLING_TIMES; do
    CONFIGS+=("$model la $s $k $t")
  done; done; done
done
echo "para_explore: ${#CONFIGS[@]} configurations (models: $MODELS)" >&2

if [[ ! -f "$DATA/img_batch.pt" ]]; then
  echo "para_explore: $DATA/img_batch.pt missing; packing $EVAL_LIST into $DATA" >&2
  run "$PYTHON" -m local_attribution.generate_pt --eval-list "$EVAL_LIST" --Datasets "$DATASETS" --out "$DATA"
fi

if [[ -z "$GPUS" ]]; then
  for config in "${CONFIGS[@]}"; do
    # shellcheck disable=SC2086
    run_config $config
  done
  exit 0
fi

# Multi-GPU: configuration i goes to GPU i mod G; one sequential worker per GPU.
read -r -a gpu_list <<< "$GPUS"
mkdir -p "$LOG_DIR"
pids=()
for w in "${!gpu_list[@]}"; do
  gpu=${gpu_list[$w]}
  (
    export CUDA_VISIBLE_DEVICES=$gpu
    for i in "${!CONFIGS[@]}"; do
      if (( i % ${#gpu_list[@]} == w )); then
        # shellcheck disable=SC2086
        run_config ${CONFIGS[$i]}
      fi
    done
  ) > "$LOG_DIR/gpu$gpu.log" 2>&1 &
  pids+=($!)
done
status=0
for w in "${!pids[@]}"; do
  if ! wait "${pids[$w]}"; then
    echo "error: worker on GPU ${gpu_list[$w]} failed; see $LOG_DIR/gpu${gpu_list[$w]}.log" >&2
    status=1
  fi
done
if [[ "$DRY_RUN" == 1 ]]; then cat "$LOG_DIR"/gpu*.log; fi
exit $status
