"""Data sets and the audio front-end: rasters in memory, the synthetic task, raster files, audio clips."""
