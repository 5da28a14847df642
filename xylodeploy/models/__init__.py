"""Torch spiking models that follow the Xylo core's order of operations (float arithmetic).

``LIFLayer``: LIF neurons with 1-2 synapses, multi-spike output, surrogate gradients, optional recurrence.
``SynNet``: rockpool's SynNet architecture on ``LIFLayer`` with an optional chip-like one-step hop delay.
"""

from xylodeploy.models.exact import ExactOutput, ExactSaturationWarning, XyloExactNet
from xylodeploy.models.lif import LIFLayer, LIFState
from xylodeploy.models.surrogate import SURROGATES
from xylodeploy.models.synnet import SynNet, SynNetRecord, delay_one_step, snap_tau, tau_pyramid

__all__ = [
    "ExactOutput",
    "ExactSaturationWarning",
    "XyloExactNet",
    "LIFLayer",
    "LIFState",
    "SURROGATES",
    "SynNet",
    "SynNetRecord",
    "delay_one_step",
    "snap_tau",
    "tau_pyramid",
]
