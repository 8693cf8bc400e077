#!/usr/bin/env bash
# Installs the system packages dagr's build and tests need (Debian 12), when any is missing.
#   libclang-dev: rust-htslib's bindgen;  zlib/bzip2/lzma: htslib's codecs;
#   samtools, bcftools, tabix (with bgzip), vcftools (vcf-validator): the tests cross-check dagr's
#   outputs with them (under CI=true a missing one fails the test; elsewhere it is skipped, with a note).
set -euo pipefail
PACKAGES=(libclang-dev clang pkg-config make zlib1g-dev libbz2-dev liblzma-dev samtools bcftools tabix vcftools)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "[dagr] installing: ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "[dagr] cargo not found: install Rust (rustup, 1.89 or newer) first" >&2; exit 2; }
