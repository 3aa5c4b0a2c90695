#!/usr/bin/env bash
# The T-maze at growing corridor lengths (Bakker 2002 solved up to 70): one run of
# experiments/tmaze.toml each, written to experiments/runs/tmaze-LENGTH. Each rollout holds at
# least four corridors' worth of steps, so that most episodes, cue and turn, lie inside one.
# Then `python experiments/collect.py` tabulates them.
set -euo pipefail
cd "$(dirname "$0")/.."
for length in 10 25 50 100 200; do
    rollout=$(( 4 * length > 128 ? 4 * length : 128 ))
    jaxlstm run experiments/tmaze.toml --set "task.length=$length" --set "ppo.rollout=$rollout" \
        --workdir "experiments/runs/tmaze-$length"
done
