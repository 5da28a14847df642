"""Power: board measurement (measure.py) and the no-hardware cycle-model estimate (estimate.py)."""
