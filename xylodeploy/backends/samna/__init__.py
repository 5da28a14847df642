"""The samna board driver: `backend` (SamnaBackend), `config` (spec <-> chip configuration, the `Dialect` table),
`board_io` (events, buffers, clips), `chip` (per-chip sequences), `realtime`, `detect` (the only place that
imports samna). Importing this package imports nothing: the modules are loaded where used."""
