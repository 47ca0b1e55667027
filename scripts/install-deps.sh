#!/usr/bin/env bash
# Installs the Debian packages citytwin needs to build, test and show a window.
# Safe to run again; does nothing when everything is present. Needs root (or sudo).
set -euo pipefail

packages=(
  # PROJ is Debian's (libproj 9.1, found by pkg-config); proj-sys makes its bindings with
  # bindgen, which needs libclang. SQLite is Debian's too (GeoPackage).
  libproj-dev libclang-dev g++ sqlite3 libsqlite3-dev pkg-config
  # zstd for the MCAP recordings' chunks: Debian's libzstd (no bundled C build).
  libzstd-dev
  # A window without a GPU: Xvfb and Mesa's software Vulkan (lavapipe).
  xvfb mesa-vulkan-drivers libvulkan1
  libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0
  # Real MQTT broker for feed tests (issue 5) and PROJ's cs2cs to cross-check transforms.
  mosquitto mosquitto-clients proj-bin
  # GDAL's ogr2ogr writes the fixtures the format tests read and compare against.
  gdal-bin
  # System root certificates for mqtts:// and https:// feeds.
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
