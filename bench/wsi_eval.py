#!/usr/bin/python3
"""Independent evaluator of a shading correction of wsi_brain/stitched.tif.

usage: wsi_eval.py OUTPUT.tif [INPUT.tif] [tile_positions.txt]

Prints the four figures issue 5 defines (tile_positions.txt is used here for
measuring only):
  seam ratio   mean |log(a/b)| of 2-px bands either side of every tile edge
               (all four edges of every tile) inside tissue, over the same on
               lines half a tile inside the tiles (1.0 = seams gone)
  fidelity     std of log(out/in) minus its Gaussian-smoothed self (sigma 6)
               in tissue at least 8 px away from tile edges, in %
  contrast     std of a 15-px high-pass in tissue, output / input
  bg ratio     (tissue median / background median) of output over input's
"""
import sys
import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

TILE = 512


def load_positions(path):
    pos = []
    for line in open(path):
        line = line.split('#')[0].split()
        if len(line) >= 3:
            pos.append((int(line[1]), int(line[2])))
    return pos


def tissue_mask(img):
    valid = img > 0
    t = threshold_otsu(np.log(img[valid].astype(np.float64)))
    return img > np.exp(t), np.exp(t)


def band_steps(img, mask, pos, offset):
    """|log(a/b)| for 2-px bands either side of lines at tile-relative offset
    (0 = the tile edges themselves, both sides of the tile). One pixel is left
    out on each side of the line (bands [x-3,x-1) and [x+1,x+3)), so a line
    shifted by a pixel still counts as that line; with this definition the
    input's ratio is 2.98 (issue 5 quotes 2.92)."""
    h, w = img.shape
    out = []
    for (x0, y0) in pos:
        lines = ([x0 + offset, x0 + TILE - offset] if offset else [x0, x0 + TILE])
        ys = np.arange(max(y0, 0), min(y0 + TILE, h))
        for xl in lines:
            if xl - 3 < 0 or xl + 3 > w:
                continue
            a = img[ys, xl - 3:xl - 1].mean(axis=1)
            b = img[ys, xl + 1:xl + 3].mean(axis=1)
            ok = mask[ys, xl - 3:xl - 1].all(axis=1) & mask[ys, xl + 1:xl + 3].all(axis=1)
            out.append(np.abs(np.log(a[ok] / b[ok])))
        lines = ([y0 + offset, y0 + TILE - offset] if offset else [y0, y0 + TILE])
        xs = np.arange(max(x0, 0), min(x0 + TILE, w))
        for yl in lines:
            if yl - 3 < 0 or yl + 3 > h:
                continue
            a = img[yl - 3:yl - 1, xs].mean(axis=0)
            b = img[yl + 1:yl + 3, xs].mean(axis=0)
            ok = mask[yl - 3:yl - 1, xs].all(axis=0) & mask[yl + 1:yl + 3, xs].all(axis=0)
            out.append(np.abs(np.log(a[ok] / b[ok])))
    return np.concatenate(out)


def edge_distance_mask(shape, pos, dist):
    near = np.zeros(shape, bool)
    h, w = shape
    for (x0, y0) in pos:
        for xl in (x0, x0 + TILE):
            near[max(y0 - dist, 0):min(y0 + TILE + dist, h), max(xl - dist, 0):min(xl + dist, w)] = True
        for yl in (y0, y0 + TILE):
            near[max(yl - dist, 0):min(yl + dist, h), max(x0 - dist, 0):min(x0 + TILE + dist, w)] = True
    return near


def main():
    out_path = sys.argv[1]
    in_path = sys.argv[2] if len(sys.argv) > 2 else '/work/shared/data/wsi_brain/stitched.tif'
    pos_path = sys.argv[3] if len(sys.argv) > 3 else in_path.rsplit('/', 1)[0] + '/tile_positions.txt'
    inp = tifffile.imread(in_path).astype(np.float64)
    out = tifffile.imread(out_path).astype(np.float64)
    assert inp.shape == out.shape, (inp.shape, out.shape)
    pos = load_positions(pos_path)
    tissue, thr = tissue_mask(inp)
    res = {}
    for name, img in (('input', inp), ('output', out)):
        s = band_steps(np.maximum(img, 1), tissue, pos, 0).mean()
        c = band_steps(np.maximum(img, 1), tissue, pos, TILE // 2).mean()
        res[name] = s / c
    away = tissue & ~edge_distance_mask(inp.shape, pos, 8)
    lr = np.log(np.maximum(out, 1) / np.maximum(inp, 1))
    fine = lr - ndi.gaussian_filter(lr, 6)
    fidelity = fine[away].std() * 100
    def hp_std(img):
        return (img - ndi.uniform_filter(img, 15))[tissue].std()
    contrast = hp_std(out) / hp_std(inp)
    bg = (inp > 0) & ~ndi.binary_dilation(tissue, iterations=20)
    def tb(img):
        return np.median(img[tissue]) / np.median(img[bg])
    bgr = tb(out) / tb(inp)
    print(f"seam_ratio_input {res['input']:.3f}")
    print(f"seam_ratio {res['output']:.3f}")
    print(f"fidelity_pct {fidelity:.3f}")
    print(f"contrast_ratio {contrast:.4f}")
    print(f"bg_ratio {bgr:.4f}")
    print(f"tissue_threshold {thr:.0f} tissue_fraction {tissue.mean():.3f}")


if __name__ == '__main__':
    main()
