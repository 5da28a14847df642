"""Exception hierarchy. Every error carries a one-line, actionable message."""

from __future__ import annotations


class XylodeployError(Exception):
    """Base class of every error raised on purpose by xylodeploy."""


class ConfigError(XylodeployError):
    """A file, config or argument is malformed (names the file/field and what was expected)."""


class DesignRuleError(XylodeployError):
    """A spec violates one or more hardware limits of its chip."""

    def __init__(self, violations: list) -> None:
        self.violations = list(violations)
        lines = [str(v) for v in self.violations]
        head = f"{len(lines)} design-rule violation(s)"
        super().__init__(head + (": " + "; ".join(lines) if lines else ""))


class QuantizationError(XylodeployError):
    """A float network cannot be quantized as requested."""


class DeviceError(XylodeployError):
    """A device (board, simulator) failed, timed out or was not found."""


class MissingDependencyError(XylodeployError, ImportError):
    """An optional dependency is missing; the message names the pip extra to install."""

    def __init__(self, package: str, extra: str, purpose: str = "") -> None:
        self.package = package
        self.extra = extra
        why = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"optional dependency '{package}' is not installed{why}: pip install 'xylodeploy[{extra}]'")
