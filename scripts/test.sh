#!/usr/bin/env bash
# Quick start 2: set up and run the whole test suite (unit + integration tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo test --locked "$@"
