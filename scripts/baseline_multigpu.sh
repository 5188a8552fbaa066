#!/usr/bin/env bash
# Baseline maps on several GPUs: scripts/multigpu.sh with baseline_attribution.generate_explanation_maps.
#
#   GPUS="0 1" bash scripts/baseline_multigpu.sh --method gradcam --eval-list val.txt --Datasets DIR [flags...]
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,4p' "$0"; exit 0; fi
exec bash "$(dirname "$0")/multigpu.sh" "${MODULE:-baseline_attribution.generate_explanation_maps}" "$@"
