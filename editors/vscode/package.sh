#!/usr/bin/env bash
# Builds the VS Code extension package, qdx-<version>.vsix, in this folder:
#   editors/vscode/package.sh
# then install it with `code --install-extension editors/vscode/qdx-0.1.0.vsix`.
# Needs Node.js and npm; everything else comes from the npm registry. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")"
# The extension's own dependencies (vscode-languageclient), as package-lock.json pins them; the
# test-only ones (vscode-textmate, vscode-oniguruma) stay out of the package.
npm ci --no-audit --no-fund
# @vscode/vsce packs what .vscodeignore leaves, with the production dependencies (the client
# library) and without the test-only ones.
npx --yes @vscode/vsce@3 package --skip-license --allow-missing-repository "$@"
ls -l ./*.vsix
