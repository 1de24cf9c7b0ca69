#!/usr/bin/env bash
# Installs the Debian packages HaoKa needs beside its Python packages: a CJK font for
# receipts rendered as images and for PDF documents, poppler's pdftotext for the tests
# that read those PDFs back, and Chromium for the tests of the web pages. Does nothing when
# they are already there.
set -euo pipefail

packages=(fonts-wqy-zenhei poppler-utils fontconfig chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "please install as root: apt-get install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
