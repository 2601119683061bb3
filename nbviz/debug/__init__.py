"""The debugging checklist: ``nbviz.check(model, loader, ...)`` and its report."""

from __future__ import annotations

from .report import Finding, Report
from .runner import check

__all__ = ["Finding", "Report", "check"]
