"""Shared test helpers, imported as ``tests.support.<module>`` (no ``sys.path`` edits needed).

* `strategies`: hypothesis strategies for valid random specs and rasters of every chip.
* `probes`: the one table of hand-checked probes (expected values measured on xylosim).
* `engines`: the registry of engines the conformance suite runs (one line per engine).
* `fixtures_small`: tiny training configs for the compile / validate / pipeline tests.
* `samna_specs`: random specs that fit each chip, for the samna driver tests.
* `graphs`: random float graphs and graph equality (interop tests).
* `lif_reference`: a literal step-by-step float LIF, the reference for the LIF layers and SynNet.
* `conformance`: run an engine and compare it with the scalar model; hypothesis cases that stress the rules.
"""
