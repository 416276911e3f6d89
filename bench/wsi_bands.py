#!/usr/bin/python3
"""Overlap-band contrast: mean log intensity inside each overlap band (between
horizontally or vertically adjacent tiles, its middle half) minus the mean of
strips 10-30 px outside the band on both sides, over tissue; averaged over all
bands. 0 means the bands are invisible. usage: wsi_bands.py IMAGE.tif [...]"""
import sys
import numpy as np
import tifffile
from skimage.filters import threshold_otsu

pos = []  # tile positions: for measuring only
for line in open('/work/shared/data/wsi_brain/tile_positions.txt'):
    f = line.split('#')[0].split()
    if len(f) >= 3:
        pos.append((int(f[1]), int(f[2])))
inp = tifffile.imread('/work/shared/data/wsi_brain/stitched.tif').astype(np.float64)
valid = inp > 0
tissue = inp > np.exp(threshold_otsu(np.log(inp[valid])))
T = 512
for path in sys.argv[1:]:
    img = np.log(np.maximum(tifffile.imread(path).astype(np.float64), 1))
    vals = []
    for (ax, ay) in pos:
        for (bx, by) in pos:
            # horizontal neighbour: b to the right of a, rows overlapping
            if 0 < bx - ax < T and abs(by - ay) < T // 4:
                x0, x1 = bx, ax + T  # band [x0, x1)
                w = x1 - x0
                if w < 8 or w > 120:
                    continue
                y0, y1 = max(ay, by) + 20, min(ay, by) + T - 20
                band = img[y0:y1, x0 + w // 4:x1 - w // 4]
                out = np.concatenate([img[y0:y1, x0 - 30:x0 - 10], img[y0:y1, x1 + 10:x1 + 30]], 1)
                mb = tissue[y0:y1, x0 + w // 4:x1 - w // 4].all(1) & tissue[y0:y1, x0 - 30:x1 + 30].all(1)
                if mb.sum() > 50:
                    vals.append(band[mb].mean() - out[mb].mean())
            if 0 < by - ay < T and abs(bx - ax) < T // 4:
                y0, y1 = by, ay + T
                h = y1 - y0
                if h < 8 or h > 120:
                    continue
                x0, x1 = max(ax, bx) + 20, min(ax, bx) + T - 20
                band = img[y0 + h // 4:y1 - h // 4, x0:x1]
                out = np.concatenate([img[y0 - 30:y0 - 10, x0:x1], img[y1 + 10:y1 + 30, x0:x1]], 0)
                mb = tissue[y0 + h // 4:y1 - h // 4, x0:x1].all(0) & tissue[y0 - 30:y1 + 30, x0:x1].all(0)
                if mb.sum() > 50:
                    vals.append(band[:, mb].mean() - out[:, mb].mean())
    v = np.array(vals)
    print(f"{path}: bands {len(v)}, mean log contrast {v.mean():+.4f}, mean |.| {np.abs(v).mean():.4f}")
