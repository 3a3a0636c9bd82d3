#!/usr/bin/env python3
"""Writes crates/backbone/tests/data/pil_bilinear.txt: Pillow's bilinear resize of a synthetic
pattern, the reference our Rust resize is tested against bit for bit.

Developer tool only (needs Pillow); the output is committed. Usage:
    python3 scripts/dev/pil_bilinear_fixture.py > crates/backbone/tests/data/pil_bilinear.txt
"""
import PIL
from PIL import Image


def pattern(w, h):
    img = Image.new("RGB", (w, h))
    img.putdata([tuple((x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256 for c in range(3))
                 for y in range(h) for x in range(w)])
    return img


print(f"# Pillow {PIL.__version__}: in_w in_h out_w out_h RGB-bytes-as-hex")
for (w, h), (ow, oh) in [((37, 23), (16, 11)), ((37, 23), (53, 31)), ((40, 9), (13, 20)), ((300, 7), (256, 7))]:
    out = pattern(w, h).resize((ow, oh), Image.BILINEAR)
    print(w, h, ow, oh, out.tobytes().hex())
