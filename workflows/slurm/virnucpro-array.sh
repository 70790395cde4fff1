#!/usr/bin/env bash
# VirNucPro-TS on Slurm: plan, a job array of N slices, then the gather, chained with --dependency=afterok.
#
# Submit (on a login node; this only calls sbatch):
#
#   workflows/slurm/virnucpro-array.sh N INPUT OUTDIR [predict flags...]
#
#   e.g.  VIRNUCPRO_SBATCH_UNITS="--gres=gpu:1 --time=04:00:00" \
#         workflows/slurm/virnucpro-array.sh 16 reads.fa.gz /scratch/$USER/reads_virnucpro -e 500 --models /shared/vnp500
#
# It submits three jobs, each running this script again with VIRNUCPRO_STEP set:
#
#   plan    1 job                              virnucpro predict INPUT FLAGS -o OUTDIR --plan-only --resume
#   units   --array=1-N, afterok on plan       virnucpro predict INPUT FLAGS -o OUTDIR --resume --units $SLURM_ARRAY_TASK_ID/N
#   gather  1 job, afterok on the whole array  virnucpro predict INPUT FLAGS -o OUTDIR --resume
#
# OUTDIR must be on a filesystem every node sees. The flags must be the same in every step (they are the run's
# fingerprint; a slice job with other models or parameters is refused).
#
# Environment:
#   VIRNUCPRO               the command (default: virnucpro), split on spaces, e.g. "node /opt/virnucpro-ts/dist/cli/main.js"
#   VIRNUCPRO_SBATCH        extra sbatch options for every step (split on spaces), e.g. "--account=lab --partition=gpu"
#   VIRNUCPRO_SBATCH_PLAN, VIRNUCPRO_SBATCH_UNITS, VIRNUCPRO_SBATCH_GATHER
#                           extra sbatch options for one step (the slices are the ones that want a GPU)
#   VIRNUCPRO_LOGDIR        where the jobs' logs go (default: OUTDIR.logs, next to OUTDIR; never inside it)
set -euo pipefail

usage() {
  echo "usage: $(basename "$0") N INPUT OUTDIR [virnucpro predict flags...]   (N slice jobs, N >= 1)" >&2
}

if [ $# -lt 3 ]; then
  usage
  exit 2
fi
slices=$1
input=$2
outdir=${3%/}
shift 3
case $slices in
  '' | *[!0-9]* | 0 | 0*)
    echo "$(basename "$0"): N (the number of slice jobs) must be a whole number from 1, got '$slices'" >&2
    usage
    exit 2
    ;;
esac

read -r -a virnucpro <<< "${VIRNUCPRO:-virnucpro}"
predict=("${virnucpro[@]}" predict "$input" "$@" -o "$outdir")

case ${VIRNUCPRO_STEP:-submit} in
  plan)
    # --resume: a rerun of the plan step keeps an existing plan (and the results computed so far).
    exec "${predict[@]}" --plan-only --resume
    ;;
  units)
    if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
      echo "$(basename "$0"): the units step runs as a Slurm array task (sbatch --array=1-$slices): SLURM_ARRAY_TASK_ID is not set" >&2
      exit 2
    fi
    exec "${predict[@]}" --resume --units "$SLURM_ARRAY_TASK_ID/$slices"
    ;;
  gather)
    exec "${predict[@]}" --resume
    ;;
  submit) ;;
  *)
    echo "$(basename "$0"): unknown VIRNUCPRO_STEP '${VIRNUCPRO_STEP}' (plan, units or gather; unset to submit)" >&2
    exit 2
    ;;
esac

# ---- submit: three sbatch calls, chained
absolute() {
  case $1 in
    /*) printf '%s' "$1" ;;
    *) printf '%s' "$PWD/$1" ;;
  esac
}
# The jobs may start in another directory: paths are made absolute here.
input=$(absolute "$input")
outdir=$(absolute "$outdir")
script=$(absolute "$0")
logdir=$(absolute "${VIRNUCPRO_LOGDIR:-$outdir.logs}")
mkdir -p "$logdir"

read -r -a every <<< "${VIRNUCPRO_SBATCH:-}"
read -r -a plan_opts <<< "${VIRNUCPRO_SBATCH_PLAN:-}"
read -r -a units_opts <<< "${VIRNUCPRO_SBATCH_UNITS:-}"
read -r -a gather_opts <<< "${VIRNUCPRO_SBATCH_GATHER:-}"

# sbatch --parsable prints "jobid" or "jobid;cluster".
submit() {
  local id
  id=$(sbatch --parsable "$@")
  printf '%s' "${id%%;*}"
}

plan=$(submit ${every[@]+"${every[@]}"} ${plan_opts[@]+"${plan_opts[@]}"} \
  --job-name=virnucpro-plan --output="$logdir/plan-%j.log" --export=ALL,VIRNUCPRO_STEP=plan \
  "$script" "$slices" "$input" "$outdir" "$@")
units=$(submit ${every[@]+"${every[@]}"} ${units_opts[@]+"${units_opts[@]}"} \
  --dependency="afterok:$plan" --array="1-$slices" \
  --job-name=virnucpro-units --output="$logdir/units-%a-of-$slices-%A.log" --export=ALL,VIRNUCPRO_STEP=units \
  "$script" "$slices" "$input" "$outdir" "$@")
gather=$(submit ${every[@]+"${every[@]}"} ${gather_opts[@]+"${gather_opts[@]}"} \
  --dependency="afterok:$units" \
  --job-name=virnucpro-gather --output="$logdir/gather-%j.log" --export=ALL,VIRNUCPRO_STEP=gather \
  "$script" "$slices" "$input" "$outdir" "$@")
echo "submitted: plan $plan, units $units (array 1-$slices), gather $gather; logs in $logdir; outputs in $outdir"
