#!/usr/bin/env bash
# Installs a software WebGPU adapter for Dawn (npm `webgpu`): Mesa ≥ 25 lavapipe (Vulkan) from
# bookworm-backports, plus Mesa's EGL/GLES for Dawn's OpenGL ES fallback. Idempotent and quiet; on any
# failure it prints one warning and exits 0, so the WebGPU tests then skip with a reason.
set -u
warn() { echo "install-webgpu: warning: $*; WebGPU tests will be skipped" >&2; exit 0; }
have_lvp() {
  [ -f /usr/share/vulkan/icd.d/lvp_icd.json ] || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) || return 1
  dpkg --compare-versions "$v" ge 25 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}
if have_lvp; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then command -v sudo >/dev/null 2>&1 && SUDO="sudo -n" || warn "not root and no sudo"; fi
command -v apt-get >/dev/null 2>&1 || warn "no apt-get (not Debian/Ubuntu)"
. /etc/os-release 2>/dev/null || true
CODENAME="${VERSION_CODENAME:-bookworm}"
LIST=/etc/apt/sources.list.d/webgpu-backports.list
if [ "${ID:-}" = debian ] && ! grep -rqs "${CODENAME}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian ${CODENAME}-backports main" | $SUDO tee "$LIST" >/dev/null || warn "cannot add ${CODENAME}-backports"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || warn "apt-get update failed"
TARGET=()
[ "${ID:-}" = debian ] && TARGET=(-t "${CODENAME}-backports")
$SUDO apt-get install -y -qq "${TARGET[@]}" mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgles2 >/dev/null 2>&1 \
  || warn "apt-get install mesa-vulkan-drivers (backports) failed"
have_lvp || warn "lavapipe from Mesa ≥ 25 not found after install"
