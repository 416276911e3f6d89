sscor-geometry 1
# edited by hand
image 100 80
orientation horizontal
tile-size 100 30
tile 0 0
tile 0 25.5
tile 0 51 100 29
seam h 40 -3 103
region 10 10 20 20 focus
region 0 0 5 5
mask mask.tif
