sscor-geometry 1
# tiles arle edges
image 65 20
orientation vertical
angle 2.5000
tile-size 16 20
tile 5.00 0.00
tile 16.00 0.00
tile 32.00 0.00
tile 48.00 0.00
seam v 30.50 0.00 .0020
