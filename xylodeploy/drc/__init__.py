"""Design rules: check a `XyloSpec` against the limits of its chip and report every violation.

>>> violations = check(spec)            # [] when the spec fits its chip
>>> assert_valid(spec)                  # raises DesignRuleError(violations)
>>> rows = resource_summary(spec, get_chip(spec.chip))
>>> advisories(spec)                    # design-rule warnings (e.g. a dead readout); never an error
"""

from __future__ import annotations

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.drc.advice import DesignRuleWarning, advisories
from xylodeploy.drc.resources import ResourceRow, resource_summary
from xylodeploy.drc.rules import RULES, Rule
from xylodeploy.drc.violation import Violation
from xylodeploy.errors import DesignRuleError
from xylodeploy.ir.xylospec import XyloSpec


def check(spec: XyloSpec, chip: ChipSpec | str | None = None) -> list[Violation]:
    """Run every rule in `RULES`; return all violations (chip defaults to ``spec.chip``)."""
    target = get_chip(spec.chip if chip is None else chip)
    return [v for rule in RULES for v in rule(spec, target)]


def assert_valid(spec: XyloSpec, chip: ChipSpec | str | None = None) -> None:
    """Raise `DesignRuleError` listing every violation, if there is any."""
    violations = check(spec, chip)
    if violations:
        raise DesignRuleError(violations)


__all__ = [
    "RULES", "DesignRuleWarning", "Rule", "ResourceRow", "Violation", "advisories", "assert_valid", "check",
    "resource_summary",
]  # fmt: skip
