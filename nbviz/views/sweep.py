"""The live view of a :class:`nbviz.Sweep`: trials table, parallel coordinates, every trial's
curve, parameter importances, and per-trial Stop, Clone and Dashboard.

A sweep is not one training run, so this view has its own UI pump (the only writer of its
widgets) instead of a run's context. Button observers only call the sweep's thread-safe
commands or store a request and poke the pump.
"""

from __future__ import annotations

import html
import math
import threading
from typing import Any

import ipywidgets as widgets
import numpy as np

from ..sweep.records import FINAL, TrialRecord
from ..sweep.space import SweepSpaceError, coerce
from ..sweep.sweep import Sweep
from ..widgets import guarded
from .base import claim_close, close_tree, message_html
from .charts import BarChart
from .pump import UiPump
from .sweep_charts import ParallelCoordinates, TrialCurves

IMPORTANCE_MIN_TRIALS = 4
TABLE_ROWS = 200
STATE_COLOURS = {"complete": "#2e7d32", "running": "#1565c0", "pruned": "#757575", "stopped": "#757575",
                 "failed": "#e65100", "waiting": "#9e9e9e"}


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def parse_changes(text: str) -> dict[str, str]:
    """``"lr=0.001, weight_decay=0"`` -> {"lr": "0.001", ...}; values stay text (never evaluated)."""
    changes = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SweepSpaceError(f"write changes as name=value, separated by commas (e.g. lr=0.001); got {part!r}")
        changes[name.strip()] = value.strip()
    if not changes:
        raise SweepSpaceError("no change given: write e.g. lr=0.001")
    return changes


class SweepView(widgets.VBox):
    """Run, watch and steer a sweep (``display(sweep)`` shows one).

    Args:
        sweep: the :class:`nbviz.Sweep` to show.
    """

    min_interval = 0.5  # seconds between refreshes: a few messages per second at most

    def __init__(self, sweep: Sweep) -> None:
        if not isinstance(sweep, Sweep):  # before the widget exists: nothing left open
            raise TypeError(f"SweepView shows an nbviz.Sweep, got {type(sweep).__name__}")
        super().__init__()
        self.sweep = sweep
        self.active = True
        self._closed = False
        self._lock = threading.Lock()
        self._message: tuple[str, str] | None = None
        self._dashboard_asked: int | None = None
        self._drawn_version = -1
        self._importance_count = -1
        self.run_button = widgets.Button(description="Run", icon="play", button_style="success")
        self.stop_button = widgets.Button(description="Stop all", icon="stop")
        self.status = widgets.HTML()
        self.table = widgets.HTML()
        self.trial_pick = guarded.Dropdown(options=[("no trials yet", -1)], value=-1, description="Trial",
                                           layout=widgets.Layout(width="340px"))
        self.stop_trial_button = widgets.Button(description="Stop trial", icon="stop")
        self.changes = widgets.Text(placeholder="lr=0.001", layout=widgets.Layout(width="220px"))
        self.clone_button = widgets.Button(description="Clone with changes", icon="copy",
                                           layout=widgets.Layout(width="170px"))
        self.dashboard_button = widgets.Button(description="Open dashboard", icon="line-chart",
                                               layout=widgets.Layout(width="150px"))
        self.message = widgets.HTML()
        self.detail = widgets.HTML()
        self.metric_pick = guarded.Dropdown(options=[sweep.metric], value=sweep.metric, description="Curves of",
                                            layout=widgets.Layout(width="260px"))
        self.parallel = ParallelCoordinates(sweep.space, sweep.metric)
        self.curves = TrialCurves()
        self.importance = BarChart("Parameter importance (fANOVA)", "importance", x_label="", horizontal=True,
                                   y_range=(0.0, 1.0), width="50%",
                                   empty_text=f"after {IMPORTANCE_MIN_TRIALS} finished trials")
        self.trial_box = widgets.VBox()
        self.run_button.on_click(lambda _: self._run())
        self.stop_button.on_click(lambda _: self.sweep.stop())
        self.stop_trial_button.on_click(lambda _: self._stop_trial())
        self.clone_button.on_click(lambda _: self._clone())
        self.dashboard_button.on_click(lambda _: self._ask_dashboard())
        self.metric_pick.observe(lambda _: self.poke(), "value")
        self.trial_pick.observe(lambda _: self.poke(), "value")
        self.children = [
            widgets.HBox([self.run_button, self.stop_button, self.status]),
            self.table,
            widgets.HBox([self.trial_pick, self.stop_trial_button, self.changes, self.clone_button,
                          self.dashboard_button]),
            self.message, self.detail,
            self.metric_pick,
            widgets.HBox([self.curves, self.parallel], layout=widgets.Layout(flex_flow="row wrap")),
            self.importance,
            self.trial_box,
        ]
        self.add_class("nbviz-sweep")
        self.pump = UiPump(hz=4)
        self.pump.register(self)

    # ---- observers: validate, command, poke -------------------------------------------------
    def poke(self) -> None:
        self.pump.poke()

    def _say(self, text: str, kind: str = "info") -> None:
        with self._lock:
            self._message = (text, kind)
        self.poke()

    def _picked(self) -> TrialRecord | None:
        return self.sweep.records.trials.get(self.trial_pick.value)

    def _picked_or_say(self, what: str = "first") -> TrialRecord | None:
        """The picked trial, or None after asking the user to pick one (``what`` for)."""
        record = self._picked()
        if record is None:
            self._say(f"pick a trial {what}", "warning")
        return record

    def _run(self) -> None:
        try:
            self.sweep.start()
        except Exception as exc:  # shown, never raised into the comm thread
            self._say(f"cannot run: {exc}", "error")
        self.poke()

    def _stop_trial(self) -> None:
        record = self._picked_or_say()
        if record is None:
            return
        if record.state in FINAL:
            self._say(f"trial {record.number} already ended ({record.state})", "warning")
        else:
            self.sweep.stop_trial(record.number)
            self._say(f"stopping trial {record.number}")

    def _clone(self) -> None:
        record = self._picked_or_say("to clone first")
        if record is None:
            return
        try:
            changes = parse_changes(self.changes.value)
            for name, value in changes.items():
                if name not in self.sweep.space:
                    raise SweepSpaceError(f"{name!r} is not a parameter of this sweep (it has {sorted(self.sweep.space)})")
                coerce(name, self.sweep.space[name], value)
            self.sweep.clone(record.number, **changes)
        except (SweepSpaceError, ValueError) as exc:
            self._say(str(exc), "error")
            return
        self._say(f"cloned trial {record.number} with {changes}: it runs next")

    def _ask_dashboard(self) -> None:
        record = self._picked_or_say()
        if record is None:
            return
        with self._lock:
            self._dashboard_asked = record.number
        self.poke()

    # ---- the pump ---------------------------------------------------------------------------
    def tick(self) -> None:
        if not self._closed:
            self.refresh()

    def refresh(self) -> None:
        """Bring every widget up to date (pump thread only)."""
        sweep, records = self.sweep, self.sweep.records
        with self._lock:
            message, self._message = self._message, None
            asked, self._dashboard_asked = self._dashboard_asked, None
        if message is not None:
            self.message.value = message_html(*message)
        if asked is not None:
            self._open_dashboard(asked)
        trials = records.snapshot()
        best = records.best()
        running = sweep.running
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        done = sum(t.state in FINAL for t in trials)
        best_text = (f" · best #{best.number}: {sweep.metric}={best.value:.4g} {best.params}" if best else "")
        status = html.escape(f"{records.status} · {done}/{sweep.n_trials} trials{best_text}")
        if self.status.value != status:
            self.status.value = status
        metrics = [sweep.metric, *[m for m in records.metrics if m != sweep.metric]]
        if tuple(metrics) != tuple(self.metric_pick.options):
            self.metric_pick.options = metrics
        options = [(self._label(t), t.number) for t in trials] or [("no trials yet", -1)]
        if options != list(self.trial_pick.options):
            keep = self.trial_pick.value
            self.trial_pick.options = options
            if keep in [o[1] for o in options]:
                self.trial_pick.value = keep
        table = self._table_html(trials, best)
        if self.table.value != table:
            self.table.value = table
        self._detail(self._picked())
        version = (records.version, self.metric_pick.value)
        if version != self._drawn_version:
            self._drawn_version = version  # type: ignore[assignment]
            if self.curves.drawn and self.metric_pick.value != getattr(self, "_metric_drawn", None):
                self.curves.reset()
            self._metric_drawn = self.metric_pick.value
            self.curves.update(trials, best, self.metric_pick.value, records.lock)
            self.parallel.update(trials, best, records.minimize)
        complete = sum(t.state == "complete" for t in trials)
        if complete >= IMPORTANCE_MIN_TRIALS and complete != self._importance_count:
            if self._importances(trials):
                self._importance_count = complete

    def _label(self, t: TrialRecord) -> str:
        params = ", ".join(f"{k}={fmt(v)}" for k, v in t.params.items())
        return f"#{t.number} {t.state} · {params}"

    def table_rows(self) -> list[dict[str, Any]]:
        """What the table shows, one dict per trial (for tests and scripts)."""
        return [{"number": t.number, "params": dict(t.params), "state": t.state, "value": t.value,
                 "best": t.best, "duration": t.duration, "worker": t.worker}
                for t in self.sweep.records.snapshot()]

    def _table_html(self, trials: list[TrialRecord], best: TrialRecord | None) -> str:
        names = list(self.sweep.space)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in
                       ["#", *names, "state", self.sweep.metric, f"best {self.sweep.metric}", "duration", "worker"])
        rows = []
        shown = trials[-TABLE_ROWS:]
        for t in shown:
            style = ' style="background:#ffebee;font-weight:bold"' if best is not None and t.number == best.number else ""
            duration = "" if t.duration is None else f"{t.duration:.1f} s"
            state = t.state + (f" (try {t.attempts})" if t.attempts > 1 else "")
            cells = [str(t.number), *[fmt(t.params.get(n)) for n in names],
                     f'<span style="color:{STATE_COLOURS.get(t.state, "#000")}">{html.escape(state)}</span>',
                     fmt(t.value), fmt(t.best), duration, html.escape(t.worker)]
            rows.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        more = f"<div>(last {TABLE_ROWS} of {len(trials)} trials)</div>" if len(trials) > TABLE_ROWS else ""
        return (f'{more}<style>.nbviz-sweep-table td, .nbviz-sweep-table th {{padding:1px 8px;'
                f'text-align:left;border-bottom:1px solid #eee}}</style>'
                f'<div class="nbviz-sweep-table" style="max-height:260px;overflow:auto;font-size:12px">'
                f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div>')

    def _detail(self, record: TrialRecord | None) -> None:
        text = ""
        if record is not None and record.state == "failed":
            text = (f'<details><summary style="color:#b71c1c">trial {record.number} failed: '
                    f'{html.escape(record.error)}</summary><pre style="font-size:11px">'
                    f'{html.escape(record.traceback)}</pre></details>')
        if self.detail.value != text:
            self.detail.value = text

    def _importances(self, trials: list[TrialRecord]) -> bool:
        """fANOVA importances of the finished trials (an in-memory copy of them: the pump
        never reads the journal the sweep's thread writes). False if none could be had."""
        import optuna

        space = self.sweep.space
        study = optuna.create_study(direction=optuna.study.StudyDirection[self.sweep.direction.upper()])
        for t in trials:
            if t.state == "complete" and t.value is not None and set(t.params) == set(space):
                study.add_trial(optuna.trial.create_trial(params=dict(t.params), distributions=dict(space),
                                                          value=t.value))
        try:
            found = optuna.importance.get_param_importances(study)
        except Exception as exc:  # too few distinct values, one parameter...: say so
            self.importance.figure.title = f"Parameter importance: {exc}"[:120]
            return True
        if not found:
            return False
        names = list(found)
        self.importance.set_bars(names, np.array([float(found[n]) for n in names]))
        return True

    def _open_dashboard(self, number: int) -> None:
        try:
            session = self.sweep.trial_session(number)
            from .dashboard import Dashboard

            dashboard = Dashboard(session, tabs=[])
        except Exception as exc:
            self.message.value = message_html(f"no dashboard for trial {number}: {exc}", "error")
            return
        old = list(self.trial_box.children)
        record = self.sweep.records.trials[number]
        best = self.sweep.records.best()
        weights = ("its trained weights (best.pt)" if best is not None and best.number == number
                   and self.sweep.best_checkpoint is not None else
                   "initial weights: only the best trial's checkpoint is kept")
        params = ", ".join(f"{k}={fmt(v)}" for k, v in record.params.items())
        header = widgets.HTML(f"<b>Trial {number}</b> ({html.escape(record.state)}; {html.escape(params)}): "
                              f"its history from {html.escape(record.worker or 'the worker')}, "
                              f"{html.escape(weights)}")
        self.trial_box.children = [header, dashboard]
        for widget in old:
            close_tree(widget)
        self.message.value = message_html(f"trial {number}'s dashboard is below")

    # ---- closing ----------------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        self.active = active and not self._closed

    def close(self) -> None:
        """Stop refreshing and close every widget (safe to call twice)."""
        if not claim_close(self, "_lock"):
            return
        self.active = False
        self.pump.unregister(self)
        for widget in list(self.trial_box.children):
            close_tree(widget)
        close_tree(self)
