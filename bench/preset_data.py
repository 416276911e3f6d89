#!/usr/bin/python3
"""Training and test patches with a known answer, for choosing the `cpu`
training preset (bench/bench_preset.c).

Content: real fluorescence tiles (../shared/data/wsi_brain/tiles, 512x512
uint16), each divided by the tiles' common smoothed flat-field so the real
shading is mostly gone, laid out as a 3 x 4 mosaic of the brightest tiles.
Artifact: a synthetic tile shading on a 256-px grid (off-centre vignetting,
1.0 near the tile's centre down to ~0.7 in the far corner, normalised to mean
1, so each seam is a step of ~20 %), so the unshaded mosaic is the ground
truth.

Pairs are sampled as SSCOR does: an anomaly patch centred (with jitter) on a
seam, and the adjacent patch one patch away inside the tile as the normal;
background-only patches are skipped. The left three quarters give training
pairs, the right quarter test patches (each rotated so its seam is vertical
at column P/2) with their ground truth.

    /usr/bin/python3 bench/preset_data.py OUT.bin [--patch 64] [--pairs 300]

OUT.bin (little-endian): u32 n_train, u32 n_test, u32 patch, f32 low, f32 high,
then f32 train_x[n_train][P][P], train_y[..], test_x[n_test][P][P],
test_gt[n_test][P][P], all scaled to [-1, 1] by v -> 2 (v - low)/(high - low) - 1.
"""
import argparse
import glob
import os
import struct

import numpy as np
import tifffile
from scipy.ndimage import gaussian_filter

DATA = os.environ.get("SSCOR_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--tests", type=int, default=120)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    P, T = a.patch, 256

    files = sorted(glob.glob(os.path.join(DATA, "wsi_brain", "tiles", "*.tif")))
    tiles = np.stack([tifffile.imread(f).astype(np.float64) for f in files])
    flat = gaussian_filter(tiles.mean(axis=0), 30)
    flat /= flat.mean()
    clean_tiles = tiles / flat
    order = np.argsort(-tiles.mean(axis=(1, 2)))[:12]
    rows = [np.concatenate([clean_tiles[order[r * 4 + c]] for c in range(4)], axis=1) for r in range(3)]
    gt = np.concatenate(rows, axis=0)  # 1536 x 2048
    H, W = gt.shape
    v = (np.arange(T) + 0.5) / T
    # off-centre, as real flat-fields are: a step of ~20 % at every seam
    vig = 1.0 - 0.5 * ((v[:, None] - 0.35) ** 2 + (v[None, :] - 0.3) ** 2)
    vig /= vig.mean()
    shading = np.tile(vig, (H // T, W // T))
    img = gt * shading

    low, high = np.percentile(img, [0.5, 99.5])
    scale = lambda z: (2.0 * (z - low) / (high - low) - 1.0).astype(np.float32)
    fg = np.percentile(img, 40)

    def crop(z, y, x):
        return z[y:y + P, x:x + P]

    def sample(x_lo, x_hi, n, test):
        xs, ys = [], []
        tries = 0
        while len(xs) < n and tries < 100000:
            tries += 1
            vertical = rng.random() < 0.5
            if vertical:
                seams = [s for s in range(T, W, T) if x_lo + P <= s <= x_hi - P]
                s = seams[rng.integers(len(seams))]
                cx = s + int(rng.integers(-3, 4)) * (0 if test else 1)
                y0 = int(rng.integers(0, H - P))
                x0 = cx - P // 2
                side = 1 if rng.random() < 0.5 else -1
                nx0 = s + 8 if side > 0 else s - 8 - P
                ny0 = y0
            else:
                seams = list(range(T, H, T))
                s = seams[rng.integers(len(seams))]
                cy = s + int(rng.integers(-3, 4)) * (0 if test else 1)
                x0 = int(rng.integers(x_lo, x_hi - P))
                y0 = cy - P // 2
                side = 1 if rng.random() < 0.5 else -1
                ny0 = s + 8 if side > 0 else s - 8 - P
                nx0 = x0
            an = crop(img, y0, x0)
            if an.shape != (P, P) or np.median(an) < fg:
                continue
            if test:
                g = crop(gt, y0, x0)
                if not vertical:  # seam vertical at column P/2
                    an, g = an.T, g.T
                xs.append(scale(an))
                ys.append(scale(g))
            else:
                no = crop(img, ny0, nx0)
                if no.shape != (P, P) or np.median(no) < fg or not (x_lo <= nx0 and nx0 + P <= x_hi):
                    continue
                xs.append(scale(an))
                ys.append(scale(no))
        return np.stack(xs), np.stack(ys)

    split = 3 * W // 4
    tx, ty = sample(0, split, a.pairs, False)
    sx, sg = sample(split, W, a.tests, True)
    with open(a.out + ".tmp", "wb") as f:
        f.write(struct.pack("<IIIff", len(tx), len(sx), P, low, high))
        for arr in (tx, ty, sx, sg):
            f.write(arr.astype("<f4").tobytes())
    os.replace(a.out + ".tmp", a.out)
    print("%s: %d training pairs, %d test patches of %d px; scaling %.1f..%.1f" % (a.out, len(tx), len(sx), P, low, high))


if __name__ == "__main__":
    main()
