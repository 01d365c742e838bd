#!/usr/bin/env bash
# Installs what the test suite needs from outside Rust on a fresh Debian machine. Idempotent: every piece is
# checked before it is installed, so a second run does nothing and takes a second.
#   - tshark: the independent dissector the capture tests compare with
#   - cargo-fuzz: the fuzz smoke run
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need_apt=()
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
echo "setup: tshark: $(tshark --version 2>/dev/null | head -n1)"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi
echo "setup: $(cargo fuzz --version)"
if rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "setup: nightly toolchain present: fuzzing runs with AddressSanitizer"
else
  echo "setup: !!! no nightly toolchain: fuzzing will run on stable without a sanitizer"
fi

# Interop peers: Samba AD DC, smbtorture, python3-samba, MIT KDC, impacket and pyspnego in a venv
# (scripts/peers.sh is idempotent; the tests provision and start the DC and KDC themselves).
bash "$(dirname "$0")/peers.sh" install
