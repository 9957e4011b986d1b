#!/usr/bin/env bash
# Fetch the page-side JavaScript the book needs (MathJax, mermaid, require.js and
# the Jupyter widgets HTML manager) from the npm registry into _vendor/, so that
# the built site works with no network.  Without npm, say so and exit 3: the
# Makefile then builds against the CDNs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=_vendor
STAMP="$DEST/.versions"
VERSIONS="mathjax@3.2.2 mermaid@11.12.1 requirejs@2.3.7 @jupyter-widgets/html-manager@1.0.6"
LAYOUT="layout 2"  # bump when the copied file set changes
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$VERSIONS $LAYOUT" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "vendor_assets: npm is not installed; the book will load MathJax, mermaid and the widget manager from CDNs" >&2
  exit 3
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck disable=SC2086
npm install --prefix "$WORK" --no-audit --no-fund --no-save --silent $VERSIONS
NM="$WORK/node_modules"
rm -rf "$DEST"
mkdir -p "$DEST/mathjax" "$DEST/mermaid/chunks" "$DEST/html-manager"
cp -r "$NM/mathjax/es5/." "$DEST/mathjax/"
rm -rf "$DEST/mathjax/sre/mathmaps"  # speech-rule maps (12 MB) are loaded only by the a11y menu's speech option
cp "$NM/mermaid/dist/mermaid.esm.min.mjs" "$DEST/mermaid/"
cp -r "$NM/mermaid/dist/chunks/mermaid.esm.min" "$DEST/mermaid/chunks/"
find "$DEST/mermaid" -name '*.map' -delete
cp "$NM/requirejs/require.js" "$DEST/require.min.js"
# Pages load only embed-amd.js (it bundles the controls); the icon fonts it asks for are copied beside the pages.
cp "$NM/@jupyter-widgets/html-manager/dist/embed-amd.js" "$DEST/html-manager/"
cp "$NM"/@jupyter-widgets/html-manager/dist/*.woff* "$DEST/html-manager/"
echo "$VERSIONS $LAYOUT" > "$STAMP"
du -sh "$DEST"
