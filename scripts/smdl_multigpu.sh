#!/usr/bin/env bash
# SMDL on several GPUs: scripts/multigpu.sh with an SMDL preset (MODULE, default the ImageNet superpixel one).
#
#   GPUS="0 1" bash scripts/smdl_multigpu.sh --eval-list datasets/imagenet/val.txt --Datasets DIR [flags...]
#   GPUS="0 1" MODULE=submodular_attribution.<other preset> bash scripts/smdl_multigpu.sh [flags...]
# The old EVAL_LIST / DATASETS variables still work.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,6p' "$0"; exit 0; fi
MODULE=${MODULE:-submodular_attribution.smdl_explanation_imagenet_superpixel}
extra=()
if [[ -n "${EVAL_LIST:-}" ]]; then extra+=(--eval-list "$EVAL_LIST"); fi
if [[ -n "${DATASETS:-}" ]]; then extra+=(--Datasets "$DATASETS"); fi
exec bash "$(dirname "$0")/multigpu.sh" "$MODULE" "${extra[@]}" "$@"
