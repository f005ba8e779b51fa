#!/usr/bin/env bash
# Copy the front-end libraries pinned in package.json into static/vendor, where the app serves
# them. The copies are committed: running the app needs neither npm nor the network.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
dest=static/vendor
rm -rf "$dest"
mkdir -p "$dest/bootstrap" "$dest/chartjs" "$dest/htmx" "$dest/sortablejs"
cp node_modules/bootstrap/dist/css/bootstrap.min.css "$dest/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js "$dest/bootstrap/"
cp node_modules/bootstrap/LICENSE "$dest/bootstrap/LICENSE"
# Chart.js: the UMD build defines window.Chart, with its one dependency (@kurkle/color) inside.
cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chartjs/"
cp node_modules/chart.js/LICENSE.md "$dest/chartjs/LICENSE.md"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/htmx.org/LICENSE "$dest/htmx/LICENSE"
cp node_modules/sortablejs/Sortable.min.js "$dest/sortablejs/"
cp node_modules/sortablejs/LICENSE "$dest/sortablejs/LICENSE"
for pkg in bootstrap chart.js htmx.org sortablejs; do
  printf '%s %s\n' "$pkg" "$(node -p "require('./node_modules/$pkg/package.json').version")"
done > "$dest/VERSIONS"
# Source maps are not shipped; drop the references so browsers do not ask for them.
sed -i "/^\/[/*]# sourceMappingURL=/d" "$dest"/bootstrap/*.min.* "$dest"/chartjs/*.min.js
cat "$dest/VERSIONS"
