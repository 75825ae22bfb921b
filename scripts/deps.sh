# Sourced by scripts/test.sh and scripts/demo.sh: apt-installs whatever of the build needs is missing.
MINFER_APT_PACKAGES=(cmake ninja-build g++ llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
                     libgtest-dev libbenchmark-dev)
minfer_install_deps() {
  local missing=()
  for p in "${MINFER_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "minfer: installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
  if [ ! -x /usr/local/cuda/bin/ptxas ]; then
    echo "minfer: note: no CUDA toolkit at /usr/local/cuda: PTX is still generated, but not assembled by ptxas"
  fi
}
