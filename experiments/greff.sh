#!/usr/bin/env bash
# Greff et al. (2017): every variant at an equal parameter budget on the pydoc text; one run each,
# written to experiments/runs/greff-VARIANT. Then `python experiments/collect.py` tabulates them.
set -euo pipefail
cd "$(dirname "$0")/.."
for variant in greff_vanilla NIG NFG NOG NIAF NOAF NP CIFG FGR; do
    jaxlstm run experiments/greff.toml --set "model.variant=$variant" --workdir "experiments/runs/greff-$variant"
done
