#!/usr/bin/env bash
# A k-fold run fanned out over a Slurm cluster: one array task per fold, then a final job that
# waits for all of them, reuses every fold model and only ensembles (and writes the submission).
#
#     bash docs/examples/slurm_kfold.sh recipes/kfold.toml kfold_kobart 5
#
# Every job names the same experiment (run.name), so they must all see the same run.output_dir:
# a shared disk. Each fold job writes its own jobs/fold_N/ folder (config.toml, results.json,
# train.log); the final job writes the experiment's results.json and predictions/.
# Set DIALSUM to the command to run (default: dialsum) and SBATCH_ARGS to your partition,
# account and resources.
set -euo pipefail

RECIPE=${1:?usage: slurm_kfold.sh RECIPE RUN_NAME [K_FOLDS]}
NAME=${2:?usage: slurm_kfold.sh RECIPE RUN_NAME [K_FOLDS]}
K=${3:-5}
DIALSUM=${DIALSUM:-dialsum}
read -r -a EXTRA <<< "${SBATCH_ARGS:---gres=gpu:1 --cpus-per-task=8 --time=24:00:00}"
mkdir -p logs

RUN="$DIALSUM run $RECIPE --set run.name=$NAME --set modes.kfold.k_folds=$K"

# One task per fold; Slurm sets SLURM_ARRAY_TASK_ID (1..K) in each.
folds=$(sbatch --parsable "${EXTRA[@]}" --job-name="$NAME-fold" --array="1-$K" \
        --output="logs/$NAME-fold%a.out" \
        --wrap="$RUN --set \"run.only=['fold=\$SLURM_ARRAY_TASK_ID']\"")

# Starts once every fold succeeded; a fold missing or failed would be trained here instead.
final=$(sbatch --parsable "${EXTRA[@]}" --job-name="$NAME-final" --dependency="afterok:$folds" \
        --output="logs/$NAME-final.out" \
        --wrap="$RUN")

echo "submitted folds $folds (array 1-$K) and final job $final"
