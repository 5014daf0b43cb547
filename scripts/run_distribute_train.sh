#!/usr/bin/env bash
# Data-parallel ERFNet training on Ascend cards: `erfnet train` with its msrun launcher and supervisor (a worker
# that dies ends the job at once, named by rank), driven by the environment variables cluster scripts set.
#
# One server, 8 cards (the usual case):
#   scripts/run_distribute_train.sh CONFIG DATA_ROOT RUN_DIR [extra erfnet train options]
#   (CONFIG: a YAML file, or the name of a shipped config: cityscapes_4stage, erfnet_pytorch, ...)
#   e.g. scripts/run_distribute_train.sh cityscapes_4stage /data/cityscapes runs/4stage
#   This is `erfnet train --config CONFIG --data DATA_ROOT --out RUN_DIR --device Ascend --devices 8`:
#   8 workers, each with batch_size images per step (global batch 8 x batch_size), the data sharded by rank,
#   gradients averaged; rank 0 writes RUN_DIR/config.yaml and RUN_DIR/stage<N>/{checkpoints/,best.ckpt,
#   final.ckpt,metrics.jsonl}; worker logs go to RUN_DIR/msrun_logs/worker_<rank>.log.
#   Extra options go through: --stages 3-4, --resume, --set stages.2.epochs=[66,140], --init FILE.
#
# Several servers (WORKERS_TOTAL cards in all, WORKERS_PER_NODE on each; run once per server, same MASTER_ADDR
# and MASTER_PORT everywhere, NODE_RANK 0 on the server at MASTER_ADDR):
#   WORKERS_TOTAL=16 WORKERS_PER_NODE=8 MASTER_ADDR=10.0.0.1 MASTER_PORT=8118 NODE_RANK=1 \
#     scripts/run_distribute_train.sh CONFIG DATA_ROOT RUN_DIR
#   This is `erfnet train ... --devices 8 --nodes 2 --node-rank 1 --master-addr 10.0.0.1 --master-port 8118`.
#   RUN_DIR must be on storage every server sees (rank 0 writes it; --resume reads it on every rank).
#
# With an HCCL rank table (clusters that assign devices by rank table, not by msrun's own discovery):
#   RANK_TABLE_FILE=/path/hccl_8p.json scripts/run_distribute_train.sh CONFIG DATA_ROOT RUN_DIR
#   (erfnet train --rank-table, passed to msrun as --rank_table_file).
#
# DEVICE=CPU runs the same job on CPU processes (how the tests run it: two launches with NODE_RANK 0 and 1 and
# MASTER_ADDR=127.0.0.1 simulate two servers on one machine). PYTHON picks the interpreter.
set -euo pipefail

if [ "$#" -lt 3 ]; then
    sed -n '2,27p' "$0"
    exit 2
fi
CONFIG=$1 DATA_ROOT=$2 RUN_DIR=$3
shift 3

WORKERS_TOTAL=${WORKERS_TOTAL:-8}
WORKERS_PER_NODE=${WORKERS_PER_NODE:-$WORKERS_TOTAL}
if [ "$WORKERS_PER_NODE" -lt 1 ] || [ $((WORKERS_TOTAL % WORKERS_PER_NODE)) -ne 0 ]; then
    echo "run_distribute_train.sh: WORKERS_TOTAL ($WORKERS_TOTAL) must be a multiple of WORKERS_PER_NODE" \
         "($WORKERS_PER_NODE)" >&2
    exit 2
fi
HOSTS=(--nodes "$((WORKERS_TOTAL / WORKERS_PER_NODE))" --node-rank "${NODE_RANK:-0}"
       --master-addr "${MASTER_ADDR:-127.0.0.1}" --master-port "${MASTER_PORT:-8118}")
if [ -n "${RANK_TABLE_FILE:-}" ]; then
    HOSTS+=(--rank-table "$RANK_TABLE_FILE")
fi
exec "${PYTHON:-python}" -m erfnet.cli train --config "$CONFIG" --data "$DATA_ROOT" --out "$RUN_DIR" \
    --device "${DEVICE:-Ascend}" --devices "$WORKERS_PER_NODE" "${HOSTS[@]}" "$@"
