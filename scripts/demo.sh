#!/usr/bin/env bash
# Quick start 1: set up, build and run `dagr demo` on the bundled test data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --locked
exec ./target/release/dagr demo "$@"
