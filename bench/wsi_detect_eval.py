#!/usr/bin/python3
"""Compares a detected geometry file with the true tile positions.

usage: wsi_detect_eval.py DETECTED.geom [tile_positions.txt] [tol_px]

Every true tile edge (4 per tile) counts as found when the detected tile
matched to that tile (nearest origin) has the same edge within tol (8 px).
Detected tiles matched to no true tile are reported as false tiles.
Only axis-aligned geometry (angle 0) is compared (wsi_brain is not rotated)."""
import sys
import numpy as np


def read_geom(path):
    tiles, tw, th, angle = [], 0, 0, 0.0
    for line in open(path):
        f = line.split('#')[0].split()
        if not f:
            continue
        if f[0] == 'tile-size':
            tw, th = int(f[1]), int(f[2])
        elif f[0] == 'angle':
            angle = float(f[1])
        elif f[0] == 'tile':
            w, h = (int(f[3]), int(f[4])) if len(f) == 5 else (tw, th)
            tiles.append((float(f[1]), float(f[2]), w, h))
    return tiles, angle


def main():
    det, angle = read_geom(sys.argv[1])
    pos_path = sys.argv[2] if len(sys.argv) > 2 else '/work/shared/data/wsi_brain/tile_positions.txt'
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
    true = []
    for line in open(pos_path):
        f = line.split('#')[0].split()
        if len(f) >= 3:
            true.append((int(f[1]), int(f[2]), 512, 512))
    d = np.array(det) if det else np.zeros((0, 4))
    used = set()
    found = errs = 0
    errors = []
    for (x, y, w, h) in true:
        if len(d) == 0:
            continue
        dist = np.hypot(d[:, 0] - x, d[:, 1] - y)
        k = int(np.argmin(dist))
        used.add(k)
        dx, dy, dw, dh = d[k]
        e = [abs(dx - x), abs(dx + dw - x - w), abs(dy - y), abs(dy + dh - y - h)]
        errors += e
        found += sum(v <= tol for v in e)
    n = 4 * len(true)
    errors = np.array(errors) if errors else np.array([np.inf])
    print(f"edges_within_{tol:g}px {found}/{n} = {100.0 * found / n:.1f} %")
    print(f"median_edge_error_px {np.median(errors):.1f}")
    print(f"detected_tiles {len(d)} true_tiles {len(true)} false_tiles {len(d) - len(used)} angle {angle}")


if __name__ == '__main__':
    main()
