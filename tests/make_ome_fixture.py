#!/usr/bin/python3
"""Writes tests/fixtures/ome_3ch.ome.tif, an OME-TIFF the way Bio-Formats and
stitchers write one: a page per channel (3 x 16-bit gray), tiled, two reduced
levels in SubIFDs of every page, channel names in the OME-XML. Made by
tifffile, so the reader is tested on a file it did not write itself. Pixels
follow a formula the tests recompute (tests/test_channel_pages.c):
    v(c, y, x) = (c * 20011 + y * 263 + x * 37) % 65536
levels are plain 2x decimations (v at 2y, 2x), as tifffile is given them.
    /usr/bin/python3 tests/make_ome_fixture.py"""
import os

import numpy as np
import tifffile

C, H, W = 3, 96, 136
c, y, x = np.meshgrid(np.arange(C), np.arange(H), np.arange(W), indexing="ij")
data = ((c * 20011 + y * 263 + x * 37) % 65536).astype(np.uint16)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "ome_3ch.ome.tif")
with tifffile.TiffWriter(out, ome=True) as t:
    t.write(data, tile=(32, 32), subifds=2, compression="zlib", predictor=True, photometric="minisblack",
            metadata={"axes": "CYX", "Channel": {"Name": ["DAPI", "GFP", "Cy5"]}})
    for k in (2, 4):
        t.write(data[:, ::k, ::k], tile=(32, 32), subfiletype=1, compression="zlib", predictor=True,
                photometric="minisblack")
print(out, os.path.getsize(out), "bytes")
