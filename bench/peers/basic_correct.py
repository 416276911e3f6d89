"""Peer corrector for bench/quality.py: BaSiC (basicpy) fitted on the tiles of
the known, axis-aligned grid (from the sscor truth geometry), i.e. BaSiC given
the raw tiles, then the corrected tiles put back in place.
usage: python basic_correct.py IN.tif OUT.tif GEOMETRY.txt
exit 3 when the geometry has no axis-aligned grid (BaSiC does not apply)."""
import sys
import warnings

import numpy as np
import tifffile

warnings.filterwarnings("ignore")
from basicpy import BaSiC  # noqa: E402

src, dst, geo = sys.argv[1:4]
grid = None
for line in open(geo):
    t = line.split()
    if t and t[0] == "grid":
        tw, th, ox, oy, ang = int(t[1]), int(t[2]), int(t[3]), int(t[4]), float(t[5])
        if ang == 0:
            grid = (tw, th, ox, oy)
        break
if grid is None:
    sys.exit(3)
tw, th, ox, oy = grid
img = tifffile.imread(src)
planes = img[..., None] if img.ndim == 2 else img
H, W = planes.shape[:2]
xs = [x for x in range(ox % tw, W - tw + 1, tw)]
ys = [y for y in range(oy % th, H - th + 1, th)]
if len(xs) * len(ys) < 4:
    sys.exit(3)
out = planes.astype(np.float64).copy()
for c in range(planes.shape[-1]):
    stack = np.stack([planes[y:y + th, x:x + tw, c] for y in ys for x in xs]).astype(np.float64)
    b = BaSiC(get_darkfield=False)
    b.fit(stack)
    corr = np.asarray(b.transform(stack, use_tqdm=False) if "use_tqdm" in b.transform.__code__.co_varnames else b.transform(stack))
    k = 0
    for y in ys:
        for x in xs:
            out[y:y + th, x:x + tw, c] = corr[k]
            k += 1
out = out[..., 0] if img.ndim == 2 else out
if img.dtype != np.float32:
    info = np.iinfo(img.dtype)
    out = np.clip(np.rint(out), info.min, info.max)
tifffile.imwrite(dst, out.astype(img.dtype))
