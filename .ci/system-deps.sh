#!/usr/bin/env bash
# Installs the Debian packages the service (runtime) or its tests (test) need, when missing.
#   runtime: fonts-noto-cjk (Chinese text in PDFs), Pango for WeasyPrint
#   test:    chromium (browser tests drive Debian's build; no browser is downloaded),
#            poppler-utils (pdftotext, pdffonts, pdftoppm to check rendered PDFs),
#            npm and nodejs (to fetch axe-core, the accessibility rules, from the npm registry)
set -euo pipefail

case "${1:-runtime}" in
  runtime) wanted=(fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0) ;;
  test)    wanted=(chromium poppler-utils fonts-noto-cjk)
           # By command, not by package: a Node.js from elsewhere (NodeSource's nodejs
           # bundles npm) conflicts with Debian's npm package.
           command -v node >/dev/null || wanted+=(nodejs)
           command -v npm >/dev/null || wanted+=(npm) ;;
  *) echo "usage: $0 runtime|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${missing[*]}. Install them with your package manager." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "Missing system packages: ${missing[*]}. Run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "Installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
