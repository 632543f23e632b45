# Shared helpers for the CI scripts.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Print the command in the README's code block that follows the marker <!-- $1 -->.
readme_command() {
  awk -v m="<!-- $1 -->" '$0 == m {f = 1; next} f && /^```/ {if (g) exit; g = 1; next} f && g {print; exit}' README.md
}
