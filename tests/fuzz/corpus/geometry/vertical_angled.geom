sscor-geometry 1
# tiles are axis-aligned in a frame rotated by `angle` degrees about the image
# centre; tile X Y = top-left corner in that frame, seams = tile edges
image 64 20
orientation vertical
angle 2.5000
tile-size 16 20
tile 0.00 0.00
tile 16.00 0.00
tile 32.00 0.00
tile 48.00 0.00
seam v 30.50 0.00 20.00
