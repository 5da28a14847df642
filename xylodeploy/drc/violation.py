"""`Violation`: one broken design rule, grouped per rule and field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    """A design-rule violation of one field of a spec.

    Many offending entries of the same field are grouped into one violation: ``value`` is the
    worst offender, ``where`` locates it, ``count`` says how many entries break the rule and
    ``message`` names the first offender too.
    """

    rule: str  # rule name, e.g. "max_hidden"
    where: str  # layer or neuron, e.g. "hidden layer", "hidden neuron 12", "input channel 3 -> hidden 130"
    field: str  # XyloSpec field, e.g. "weights_in"
    value: Any  # the (worst) offending value
    limit: Any  # the chip limit it breaks (a number or a range string)
    message: str  # one line: what is wrong, against which chip limit
    count: int = 1  # number of offending entries grouped here

    def __str__(self) -> str:
        return f"{self.rule}: {self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (value and limit as str if not int/float)."""
        d = asdict(self)
        for key in ("value", "limit"):
            if not isinstance(d[key], (int, float, type(None))):
                d[key] = str(d[key])
        return d
