#!/usr/bin/python3
"""Reference values for core/metrics.c, computed with numpy, scipy and scikit-image.

Run:  /usr/bin/python3 tests/make_metric_fixtures.py
Writes tests/fixtures/metrics/: small raw images (little-endian, interleaved,
no header) and values.txt, one record per line:
    image NAME W H C TYPE            (TYPE: u8, u16, f32; file NAME.raw)
    KEY v1 v2 ...                    (reference numbers, full precision)
The C test (tests/test_metrics.c) reads the same images and compares.
Definitions follow core/metrics.h exactly; each is re-implemented here from
numpy/scipy primitives, and SSIM/PSNR/MAE come from scikit-image itself.
"""
import os

import numpy as np
from scipy import ndimage as ndi
from skimage.metrics import structural_similarity, peak_signal_noise_ratio

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "metrics")
EPS = 1.0
rng = np.random.default_rng(20231)
records = []


def save(name, arr):
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    c = 1 if arr.ndim == 2 else arr.shape[2]
    t = {np.uint8: "u8", np.uint16: "u16", np.float32: "f32"}[arr.dtype.type]
    arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(OUT, name + ".raw"))
    records.append(f"image {name} {w} {h} {c} {t}")


def rec(key, *vals):
    records.append(key + " " + " ".join(repr(float(v)) for v in vals))


def tissue(h, w, scale):
    """Blobs on dark background plus fine texture: enough structure for every metric."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.08 + 0.9 * np.exp(-(((xx - w * 0.45) / (0.3 * w)) ** 2 + ((yy - h * 0.5) / (0.35 * h)) ** 2))
    tex = ndi.gaussian_filter(rng.standard_normal((h, w)), 1.2) * 0.6
    img = base * (1 + tex)
    return np.clip(img * scale, 0, None)


def plane(img, ch):
    img = img.astype(np.float64)
    if img.ndim == 2:
        return img
    return img.mean(axis=2) if ch < 0 else img[..., ch]


def line_bins(h, w, angle):
    a = np.deg2rad(angle)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    p = xx * np.sin(a) + yy * np.cos(a)
    corners = [0.0, (w - 1) * np.sin(a), (h - 1) * np.cos(a), (w - 1) * np.sin(a) + (h - 1) * np.cos(a)]
    return np.floor(p - min(corners) + 0.5).astype(np.int64)


def profile(img, ch, r, angle):
    x, y, w, h = r
    p = plane(img, ch)[y:y + h, x:x + w]
    b = line_bins(h, w, angle)
    return np.bincount(b.ravel(), p.ravel()) / np.bincount(b.ravel())


def otsu(img, ch):
    p = plane(img, ch).ravel()
    lo, hi = p.min(), p.max()
    width = (hi - lo) / 256
    idx = np.minimum(((p - lo) / width).astype(np.int64), 255)
    hist = np.bincount(idx, minlength=256).astype(np.float64)
    k = np.arange(256)
    w0 = np.cumsum(hist)[:-1]
    s0 = np.cumsum(hist * k)[:-1]
    w1 = hist.sum() - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        v = w0 * w1 * (s0 / w0 - (np.sum(hist * k) - s0) / w1) ** 2
    v[(w0 == 0) | (w1 == 0)] = -1
    return lo + (np.argmax(v) + 1) * width


SEAM_GAP = 1  # pixels left out either side of a line (core/metrics.h)


def seam_step(img, ch, tiles, thr, band=2):
    p = plane(img, ch)
    H, W = p.shape

    def line(vertical, e, s0, s1):
        vals = []
        across = W if vertical else H
        along = H if vertical else W
        g = SEAM_GAP
        if e - g - band < 0 or e + g + band > across:
            return vals
        for s in range(max(s0, 0), min(s1, along)):
            if vertical:
                a, b = p[s, e - g - band:e - g].mean(), p[s, e + g:e + g + band].mean()
            else:
                a, b = p[e - g - band:e - g, s].mean(), p[e + g:e + g + band, s].mean()
            if a > thr and b > thr:
                vals.append(abs(np.log((a + EPS) / (b + EPS))))
        return vals

    seam, non = [], []
    for (x, y, w, h) in tiles:
        seam += line(True, x, y, y + h) + line(True, x + w, y, y + h)
        seam += line(False, y, x, x + w) + line(False, y + h, x, x + w)
        non += line(True, x + w // 2, y, y + h) + line(False, y + h // 2, x, x + w)
    return np.mean(seam), np.mean(non), len(seam), len(non)


def exclude_edges(mask, tiles, m):
    mask = mask.copy()
    H, W = mask.shape

    def clr(c0, c1, y0, y1):
        mask[max(y0, 0):max(min(y1, H), 0), max(c0, 0):max(min(c1, W), 0)] = False

    for (x, y, w, h) in tiles:
        clr(x - m, x + m, y - m, y + h + m)
        clr(x + w - m, x + w + m, y - m, y + h + m)
        clr(x - m, x + w + m, y - m, y + m)
        clr(x - m, x + w + m, y + h - m, y + h + m)
    return mask


def fidelity(out, inp, ch, mask, sigma):
    L = np.log((plane(out, ch) + EPS) / (plane(inp, ch) + EPS))
    F = L - ndi.gaussian_filter(L, sigma, mode="reflect", truncate=4.0)
    return F[mask].std()


def texture(img, ch, mask, size):
    p = plane(img, ch)
    return (p - ndi.uniform_filter(p, size, mode="reflect"))[mask].std()


def median_ratio(img, ch, mask):
    p = plane(img, ch)
    return np.median(p[mask]) / np.median(p[~mask])


def residual(out, inp, truth, ch, kind, param):
    def comp(e):
        m = e.mean()
        if kind == "stripe":
            b = line_bins(*e.shape, param).ravel()
            means = np.bincount(b, e.ravel()) / np.bincount(b)
            c = means[b] - m
        else:
            c = ndi.gaussian_filter(e, param, mode="reflect", truncate=4.0).ravel() - m
        return np.sqrt(np.mean(c ** 2))

    t = plane(truth, ch)
    ro, ri = comp(plane(out, ch) - t), comp(plane(inp, ch) - t)
    return 100 * ro / ri, ro, ri


def main():
    os.makedirs(OUT, exist_ok=True)
    H, W = 64, 80
    # 16-bit gray: truth, a striped + tile-shaded input, an imperfect correction.
    truth = tissue(H, W, 20000.0)
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 1 + 0.25 * np.sin(2 * np.pi * yy / 9.0)
    shading = np.where(xx < 40, 1.0, 0.7) * (1 - 0.15 * ((yy % 32) / 32.0))
    inp = truth * stripes * shading + 30
    out = truth * (1 + 0.05 * np.sin(2 * np.pi * yy / 9.0)) * (1 + 0.1 * (xx / W)) \
        + rng.normal(0, 40, (H, W))
    truth16 = np.clip(np.rint(truth), 0, 65535).astype(np.uint16)
    in16 = np.clip(np.rint(inp), 0, 65535).astype(np.uint16)
    out16 = np.clip(np.rint(out), 0, 65535).astype(np.uint16)
    save("truth16", truth16)
    save("in16", in16)
    save("out16", out16)

    # 8-bit RGB pair
    t8 = np.stack([tissue(48, 40, 200.0), tissue(48, 40, 150.0), tissue(48, 40, 90.0)], axis=2)
    t8 = np.clip(np.rint(t8), 0, 255).astype(np.uint8)
    o8 = np.clip(np.rint(t8 * 0.9 + rng.normal(0, 6, t8.shape) + 5), 0, 255).astype(np.uint8)
    save("truth8rgb", t8)
    save("out8rgb", o8)

    # float pair
    tf = (tissue(40, 44, 3.0) - 0.5).astype(np.float32)
    of = (tf + rng.normal(0, 0.05, tf.shape)).astype(np.float32)
    save("truthf", tf)
    save("outf", of)

    # --- region metrics on in16, channel 0
    r = (5, 7, 30, 20)
    p = plane(in16, 0)[7:27, 5:35]
    rec("icv16", p.mean() / p.std(), p.mean(), p.std())
    p = plane(t8, -1)[3:40, 2:30]
    rec("icv8rgb_mean", p.mean() / p.std(), p.mean(), p.std())
    for ang in (0.0, 90.0, 17.5, -33.0):
        rec(f"profile16_{ang:g}", *profile(in16, 0, r, ang))
    rec("profile8rgb_g_0", *profile(t8, 1, (0, 0, 40, 48), 0.0))

    thr = otsu(in16, 0)
    rec("otsu16", thr)
    rec("otsu8rgb_mean", otsu(t8, -1))

    tiles = [(0, 0, 40, 32), (40, 0, 40, 32), (0, 32, 40, 32), (38, 30, 40, 32)]
    seam_thr = 2000.0
    s, n, cs, cn = seam_step(in16, 0, tiles, seam_thr)
    rec("seam16", s, n, s / n, cs, cn)
    s, n, cs, cn = seam_step(in16, 0, tiles, seam_thr, band=3)
    rec("seam16_band3", s, n, s / n, cs, cn)

    mask = exclude_edges(plane(in16, 0) > thr, tiles, 3)
    np.ascontiguousarray(mask.astype(np.uint8)).tofile(os.path.join(OUT, "mask16.raw"))
    records.append(f"image mask16 {W} {H} 1 u8")
    rec("mask16_count", mask.sum())
    rec("fidelity16_s3", fidelity(out16, in16, 0, mask, 3.0))
    rec("fidelity16_s6", fidelity(out16, in16, 0, mask, 6.0))
    rec("texture16_15", texture(in16, 0, mask, 15))
    rec("texture16_4", texture(in16, 0, mask, 4))
    rec("median_ratio16", median_ratio(in16, 0, mask))

    rec("residual16_stripe0", *residual(out16, in16, truth16, 0, "stripe", 0.0))
    rec("residual16_stripe10", *residual(out16, in16, truth16, 0, "stripe", 10.0))
    rec("residual16_shading4", *residual(out16, in16, truth16, 0, "shading", 4.0))

    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    rec("psnr16", peak_signal_noise_ratio(truth16, out16, data_range=65535))
    rec("ssim16", structural_similarity(truth16, out16, data_range=65535, **kw))
    rec("mae16", np.mean(np.abs(truth16.astype(np.float64) - out16)))
    rec("psnr8rgb", peak_signal_noise_ratio(t8, o8, data_range=255))
    rec("ssim8rgb", structural_similarity(t8, o8, data_range=255, channel_axis=2, **kw))
    rec("mae8rgb", np.mean(np.abs(t8.astype(np.float64) - o8)))
    dr = float(tf.max() - tf.min())
    rec("datarange_f", dr)
    rec("psnrf", peak_signal_noise_ratio(tf, of, data_range=dr))
    rec("ssimf", structural_similarity(tf.astype(np.float64), of.astype(np.float64), data_range=dr, **kw))
    rec("maef", np.mean(np.abs(tf.astype(np.float64) - of)))

    # Gaussian blur primitive (float plane), sigma 2.5, truncate 4 and 3.5
    g = plane(in16, 0)
    rec("gauss16_s2.5_sum_sq", np.sum(ndi.gaussian_filter(g, 2.5, mode="reflect", truncate=4.0) ** 2))
    rec("gauss16_px", *ndi.gaussian_filter(g, 2.5, mode="reflect", truncate=4.0)[[0, 10, 63], [0, 33, 79]])

    # The real stitched image with its true tile edges (when the data is present).
    data = os.environ.get("SSCOR_DATA", os.path.join(os.path.dirname(OUT), "..", "..", "..", "shared", "data"))
    st = os.path.join(data, "wsi_brain", "stitched.tif")
    if os.path.exists(st):
        import tifffile
        img = tifffile.imread(st)
        tiles = []
        for line in open(os.path.join(data, "wsi_brain", "tile_positions.txt")):
            t = line.split()
            if t and not t[0].startswith("#"):
                tiles.append((int(t[1]), int(t[2]), 512, 512))
        thr = otsu(img, 0)
        s, n, cs, cn = seam_step(img, 0, tiles, thr)
        rec("wsi_otsu", thr)
        rec("wsi_seam", s, n, s / n, cs, cn)

    with open(os.path.join(OUT, "values.txt"), "w") as f:
        f.write("# made by tests/make_metric_fixtures.py; do not edit\n")
        f.write("\n".join(records) + "\n")


if __name__ == "__main__":
    main()
