"""Scale-out on existing engines: sharded simulation (local processes or Dask distributed),
data-parallel training (torch.distributed) and hyper-parameter sweeps (Optuna).

Nothing here changes the single-process path: every entry point falls back to it when asked for
one worker.
"""
