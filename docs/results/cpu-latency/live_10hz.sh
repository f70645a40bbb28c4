#!/bin/bash
# Usage (from the repository root): docs/results/cpu-latency/live_10hz.sh PORT SUMMARY.json [run options]
# One live run at 10 Hz (bundled recording, 0.6 s frames at 6x) with the given extra run options.
set -e
port=$1; shift; out=$1; shift
.venv/bin/rtdecode run --source zmq+tcp://127.0.0.1:$port --max-frames 360 --quiet --summary-json $out "$@" > /dev/null 2>&1 &
run=$!
sleep 6
.venv/bin/rtdecode replay --to zmq+tcp://127.0.0.1:$port --speed 6 --max-frames 400 --wait-s 30 > /dev/null 2>&1 || true
wait $run
