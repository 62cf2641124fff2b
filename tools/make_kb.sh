#!/usr/bin/env bash
# Builds .kb/ (ignored; carried to the GPU machine by the device tool's carry list) from a
# KernelBench git directory, unchanged: its level-1 problem files, its eval package, and wheels
# for what its eval path imports beyond torch and numpy (Python 3.12, the GPU machine's; since
# 423217d kernelbench/utils.py imports openai, litellm and tqdm at the top: about 38 MiB of the
# device tool's 64 MiB carry).
#   bash tools/make_kb.sh /work/.mirror/ScalingIntelligence+KernelBench/repo
set -euo pipefail
git_dir=${1:?usage: tools/make_kb.sh KERNELBENCH_GIT_DIR}
cd "$(dirname "$0")/.."
rm -rf .kb && mkdir -p .kb/kbpkg .kb/wheels
git --git-dir="$git_dir" archive HEAD KernelBench/level1 | tar x -C .kb
tmp=$(mktemp -d)
git --git-dir="$git_dir" archive HEAD src/kernelbench | tar x -C "$tmp"
mv "$tmp/src/kernelbench" .kb/kbpkg/ && rm -rf "$tmp"
python3 -m pip download -q --python-version 3.12 --only-binary=:all: \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  pydantic requests python-dotenv openai litellm tqdm -d .kb/wheels
echo ".kb: $(ls .kb/KernelBench/level1 | wc -l) level-1 problems at $(git --git-dir="$git_dir" rev-parse --short HEAD), $(ls .kb/wheels | wc -l) wheels, $(du -sh .kb | cut -f1)"
