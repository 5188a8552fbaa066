#!/usr/bin/env bash
# LA / gradient-method maps on several GPUs: scripts/multigpu.sh with local_attribution.generate_attributions.
# The workers share the output's .partial folder and claim its batches, so together they fill one
# (N, 3, H, W) file; each waits for the batches the others hold, and the first to see them all assembles it.
#
#   GPUS="0 1" bash scripts/la_multigpu.sh --method la --data data --save-dir attributions [flags...]
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,6p' "$0"; exit 0; fi
exec bash "$(dirname "$0")/multigpu.sh" "${MODULE:-local_attribution.generate_attributions}" "$@"
