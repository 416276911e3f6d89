sscor-geometry 1
# tiles are axis-aligned in a frame rotated by `angle` degrees about the image
# centre; tile X Y = top-left corner in that frame, seams = tile edges
image 36 28
orientation grid
angle 0.0000
tile-size 20 16
tile 0.00 0.00
tile 16.00 0.00
tile 0.00 12.00
tile 16.00 12.00
region 3 4 5 6 bubble
