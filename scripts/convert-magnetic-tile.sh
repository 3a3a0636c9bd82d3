#!/usr/bin/env bash
# Converts the Magnetic-Tile-Defect dataset (Huang et al. 2018, github.com/abin24/Magnetic-tile-defect-datasets.)
# from its own layout into MVTec AD layout, as one category `tile`:
#
#   SRC/MT_<Class>/Imgs/<stem>.jpg   an image          ->  OUT/tile/test/<class>/<stem>.jpg
#   SRC/MT_<Class>/Imgs/<stem>.png   its defect mask   ->  OUT/tile/ground_truth/<class>/<stem>_mask.png
#   SRC/MT_Free/Imgs/<stem>.jpg      a defect-free tile ->  OUT/tile/train/good/ or OUT/tile/test/good/
#
# <class> is the folder name without `MT_`, lower-cased (MT_Blowhole -> blowhole). The split of
# MT_Free: sort the file names, shuffle them with Python's random.Random(SEED).shuffle (stable
# across Python 3 versions), send the first round(n * TEST_FRACTION) (halves to even) to
# test/good, the rest to train/good. MT_Free's own masks (all background) are not copied.
#
# Usage: scripts/convert-magnetic-tile.sh SRC [OUT] [TEST_FRACTION] [SEED]
#        (defaults: OUT data/magnetic_tile, TEST_FRACTION 0.2, SEED 0)
# OUT must not exist: the result is written beside it and renamed into place when complete.
# Needs python3 (standard library only).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 4 ]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
SRC=$1
OUT=${2:-data/magnetic_tile}
TEST_FRACTION=${3:-0.2}
SEED=${4:-0}

if ! command -v python3 > /dev/null; then
    echo "error: python3 is needed to convert $SRC; install it (standard library only)" >&2
    exit 1
fi
if [ -e "$OUT" ]; then
    echo "error: $OUT exists; remove it or choose another output folder" >&2
    exit 1
fi
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d "$OUT.partial-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

python3 - "$SRC" "$tmp/tile" "$TEST_FRACTION" "$SEED" <<'PY'
import pathlib, random, shutil, sys

src, out, fraction, seed = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
try:
    fraction, seed = float(fraction), int(seed)
except ValueError:
    sys.exit(f"error: TEST_FRACTION {fraction!r} must be a number and SEED {seed!r} an integer")
if not 0 <= fraction < 1:
    sys.exit(f"error: TEST_FRACTION {fraction} must be in [0, 1)")
classes = sorted(p for p in src.glob("MT_*") if (p / "Imgs").is_dir()) if src.is_dir() else []
if not any(p.name == "MT_Free" for p in classes):
    sys.exit(f"error: {src}: no MT_Free/Imgs folder; give the folder holding MT_Free, MT_Blowhole, ... (each with Imgs/)")

def copy(image, dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, dest)

counts, unmasked = {}, []
for folder in classes:
    images = sorted(p for p in (folder / "Imgs").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if folder.name == "MT_Free":
        shuffled = list(images)
        random.Random(seed).shuffle(shuffled)
        n_test = round(len(images) * fraction)
        if n_test >= len(images):
            sys.exit(f"error: {folder}: {len(images)} images leave none for train/good with TEST_FRACTION {fraction}")
        for i, image in enumerate(shuffled):
            split = "test/good" if i < n_test else "train/good"
            copy(image, out / split / image.name)
            counts[split] = counts.get(split, 0) + 1
        continue
    kind = folder.name[len("MT_"):].lower()
    for image in images:
        copy(image, out / "test" / kind / image.name)
        mask = image.with_suffix(".png")
        if mask.is_file():
            copy(mask, out / "ground_truth" / kind / f"{image.stem}_mask.png")
        else:
            unmasked.append(str(image))
        counts[f"test/{kind}"] = counts.get(f"test/{kind}", 0) + 1
for name, n in sorted(counts.items()):
    print(f"{name}: {n}")
if unmasked:
    print(f"warning: {len(unmasked)} defect image(s) without a same-name .png mask, e.g. {unmasked[0]}", file=sys.stderr)
PY

mv "$tmp" "$OUT"
trap - EXIT
echo "$OUT/tile: ok"
