#!/usr/bin/env bash
# Every test: fetches the weights and the ELPV data the tests use (idempotent), then runs
# `cargo test --workspace`. Extra arguments go to cargo test.
#
# Tests that need ../shared (PyTorch/scikit-learn golden outputs, MVTec AD grid) or the fetched
# files skip with a printed reason when those are absent; with MON_REQUIRE_FIXTURES=1 (as in CI)
# their absence is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fetch-weights.sh
./scripts/fetch-elpv.sh
cargo test --workspace "$@"
