"""Peer corrector for bench/quality.py: pystripe's filter_streaks on each channel.
usage: python pystripe_correct.py IN.tif OUT.tif"""
import sys

import numpy as np
import pystripe
import tifffile

src, dst = sys.argv[1], sys.argv[2]
img = tifffile.imread(src)
planes = img[..., None] if img.ndim == 2 else img
out = np.empty(planes.shape, np.float64)
for c in range(planes.shape[-1]):
    # pystripe works in 16-bit: scale 8-bit/float data up and back down.
    p = planes[..., c].astype(np.float64)
    scale = 256.0 if img.dtype == np.uint8 else 1.0 if img.dtype == np.uint16 else 65535.0 / max(p.max(), 1e-12)
    f = pystripe.filter_streaks(p * scale, sigma=[64, 128], level=5, wavelet="db2")
    out[..., c] = f.astype(np.float64) / scale
out = out[..., 0] if img.ndim == 2 else out
if img.dtype != np.float32:
    info = np.iinfo(img.dtype)
    out = np.clip(np.rint(out), info.min, info.max)
tifffile.imwrite(dst, out.astype(img.dtype))
