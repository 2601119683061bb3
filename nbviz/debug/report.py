"""The checklist's result types: one Finding per check, a Report that prints and renders."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field

STATUSES = ("fail", "warn", "pass", "skipped")
GROUPS = ("data", "initialisation", "forward", "backward", "optimizer", "loss", "experiments")
_ICON = {"fail": "✗", "warn": "!", "pass": "✓", "skipped": "–"}
_COLOUR = {"fail": "#b71c1c", "warn": "#e65100", "pass": "#2e7d32", "skipped": "#757575"}


@dataclass
class Finding:
    """The result of one check.

    Attributes:
        check: a stable id, ``group.name`` (``forward.shapes``).
        title: what was checked, in a few words.
        status: ``pass``, ``warn``, ``fail`` or ``skipped``.
        summary: what was found, with numbers (for skipped: the reason).
        location: a module name (``fc1``) or ``file:line`` of code in ``forward``; "" if none.
        fix: one sentence saying what to do, with code; "" when nothing is wrong.
        evidence: lines of numbers backing the summary (text).
        evidence_html: extra HTML (tables, inline PNG/SVG pictures) for notebooks.
    """

    check: str
    title: str
    status: str
    summary: str
    location: str = ""
    fix: str = ""
    evidence: list[str] = field(default_factory=list)
    evidence_html: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def group(self) -> str:
        return self.check.split(".", 1)[0]

    @property
    def flagged(self) -> bool:
        """True for warn and fail."""
        return self.status in ("warn", "fail")

    def text(self) -> str:
        lines = [f"[{self.status.upper():4}] {self.check}: {self.title}: {self.summary}"]
        if self.location:
            lines.append(f"       at {self.location}")
        if self.fix and self.flagged:
            lines.append(f"       fix: {self.fix}")
        return "\n".join(lines)

    def html(self) -> str:
        colour = _COLOUR[self.status]
        parts = [f'<tr><td style="color:{colour};font-weight:bold;white-space:nowrap">'
                 f'{_ICON[self.status]} {self.status}</td>',
                 f"<td><code>{html.escape(self.check)}</code></td>",
                 f"<td><b>{html.escape(self.title)}</b><br>{html.escape(self.summary)}"]
        if self.location:
            parts.append(f"<br><small>at <code>{html.escape(self.location)}</code></small>")
        if self.fix and self.flagged:
            parts.append(f"<br><i>fix:</i> {html.escape(self.fix)}")
        if self.evidence or self.evidence_html:
            body = "".join(f"<div><code>{html.escape(e)}</code></div>" for e in self.evidence)
            parts.append(f"<details><summary>evidence</summary>{body}{self.evidence_html}"
                         "</details>")
        parts.append("</td></tr>")
        return "".join(parts)


@dataclass
class Report:
    """Every finding of one ``nbviz.check`` run, worst first within each group's order."""

    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    model_name: str = ""

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, check: str) -> Finding:
        for finding in self.findings:
            if finding.check == check:
                return finding
        raise KeyError(f"no check {check!r} in this report; checks: "
                       f"{', '.join(f.check for f in self.findings)}")

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    @property
    def problems(self) -> list[Finding]:
        """Failures first, then warnings."""
        return ([f for f in self.findings if f.status == "fail"]
                + [f for f in self.findings if f.status == "warn"])

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        return {s: sum(f.status == s for f in self.findings) for s in STATUSES}

    def headline(self) -> str:
        c = self.counts()
        return (f"nbviz.check{f' of {self.model_name}' if self.model_name else ''}: "
                f"{c['fail']} failed, {c['warn']} warnings, {c['pass']} passed, "
                f"{c['skipped']} skipped ({self.seconds:.1f} s)")

    def __str__(self) -> str:
        lines = [self.headline()]
        problems = self.problems
        if problems:
            lines.append("")
            lines.extend(f.text() for f in problems)
        lines.append("")
        lines.extend(f.text().splitlines()[0] for f in self.findings if not f.flagged)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Report {self.headline()}>"

    def _repr_html_(self) -> str:
        rows = "".join(f.html() for f in self.problems)
        rows += "".join(f.html() for f in self.findings if not f.flagged)
        return (f'<div class="nbviz-check"><p><b>{html.escape(self.headline())}</b></p>'
                '<table style="border-collapse:collapse;text-align:left">'
                f"{rows}</table></div>")
