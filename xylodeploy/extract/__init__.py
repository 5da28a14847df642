"""Graph extraction: a trained torch module -> `NetworkGraph` (the float IR).

``extract(module)`` supports our `SynNet` and any ``nn.Sequential`` of ``nn.Linear`` (no bias)
and `LIFLayer` modules (with or without recurrent weights), with ``nn.Dropout``/``nn.Identity``
ignored. Anything else is refused with an `ExtractionError` naming the module path and why it
cannot run on a Xylo core. Framework importers (snnTorch, SpikingJelly, rockpool, NIR) live in
``xylodeploy.interop``.
"""

from xylodeploy.extract.torch_modules import ExtractionError, HopDelayWarning, extract, extract_synnet

__all__ = ["ExtractionError", "HopDelayWarning", "extract", "extract_synnet"]
