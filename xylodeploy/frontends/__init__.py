"""Sensor front-ends of the Xylo chips: raw samples -> the input spike rasters the SNN core sees."""
