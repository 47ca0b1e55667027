#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test, the render test
# included (it opens a real window under Xvfb with software Vulkan).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo test "$@"
