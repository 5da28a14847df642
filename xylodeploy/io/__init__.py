"""File I/O: atomic writes and path checks (`files`), rasters (`rasters`), event counts (`counts`)."""
