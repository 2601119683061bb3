"""One close preamble for views and composite widgets: the first close does the work once,
even from several threads at once; later ones and half-built widgets are safe."""

from __future__ import annotations

import threading

import ipywidgets as widgets
import pytest
import torch
from ipywidgets.widgets import widget as widget_module
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.views.base import LiveView, claim_close
from nbviz.views.playground import Playground
from nbviz.views.sweep import SweepView


class Counted(LiveView):
    """A view that counts how often its release work ran."""

    def __init__(self, session: nbviz.TrainingSession) -> None:
        super().__init__(session)
        self.released = 0

    def on_close(self) -> None:
        self.released += 1


def _session() -> nbviz.TrainingSession:
    data = TensorDataset(torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,)))
    return nbviz.TrainingSession(SmallCNN(width=4), DataLoader(data, batch_size=16), epochs=1)


def test_claim_close_is_true_once_and_closes_a_half_built_widget_bare() -> None:
    box = widgets.VBox()
    box._closed = False
    box._lock = threading.Lock()
    assert claim_close(box, "_lock") is True
    assert box._closed and claim_close(box, "_lock") is False
    bare = widgets.VBox()  # its __init__ never made the lock
    assert bare.comm is not None
    assert claim_close(bare, "_lock") is False
    assert bare.comm is None


def test_a_view_closed_from_several_threads_at_once_releases_once() -> None:
    view = Counted(_session())
    barrier = threading.Barrier(4)

    def close() -> None:
        barrier.wait()
        view.close()

    threads = [threading.Thread(target=close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert view.released == 1 and view.closed
    assert view.comm is None and view not in view.context.pump._views
    view.close()
    assert view.released == 1


@pytest.mark.parametrize("cls", [Counted, Playground, SweepView])
def test_close_of_a_widget_whose_init_failed_early_only_closes_it(cls: type) -> None:
    half = cls.__new__(cls)
    widgets.VBox.__init__(half)  # as if __init__ raised right after the widget was made
    half.close()  # what ipywidgets' __del__ would call: no AttributeError
    assert half.comm is None
    half.close()


def test_a_sweep_view_refusing_its_argument_leaves_no_open_widget() -> None:
    before = len(widget_module._instances)
    with pytest.raises(TypeError, match="SweepView shows an nbviz.Sweep, got int"):
        SweepView(3)  # type: ignore[arg-type]
    assert len(widget_module._instances) == before
