"""Baselines we measure against: `rockpool_quantizers` (rockpool's post-training quantisers, reproduced)."""
