"""The "Decision plane" dashboard tab: asks for three images until it has them (gallery
clicks, typed indices, or the EmbeddingExplorer's selection), then shows the plane."""

from __future__ import annotations

import torch
from helpers import make_loader, wait_until
from torch.utils.data import DataLoader, TensorDataset

import nbviz
from nbviz.models import SmallCNN
from nbviz.views.decision_plane import DecisionPlane
from nbviz.views.decision_plane_tab import DecisionPlaneTab
from nbviz.views.registry import DASHBOARD_TABS


def click(grid, index: int) -> None:
    grid._handle_message(grid, {"type": "click", "index": index}, [])


def test_the_tab_asks_for_three_images_then_draws_the_plane_through_them():
    assert ("Decision plane", "nbviz.views.decision_plane_tab:DecisionPlaneTab") in DASHBOARD_TABS
    torch.manual_seed(0)
    session = nbviz.TrainingSession(SmallCNN(), make_loader(64), make_loader(32, shuffle=False))
    board = nbviz.Dashboard(session, tabs=["Embeddings", "Decision plane"])
    tab = board.view("Decision plane")
    try:
        assert isinstance(tab, DecisionPlaneTab) and tab.gallery.count == 32
        tab.refresh()
        assert "pick three images" in tab.message.value and "picked 0 of 3" in tab.message.value
        click(tab.gallery, 4)
        click(tab.gallery, 9)
        tab.refresh()
        assert "picked 2 of 3: [4, 9]" in tab.message.value and tab.plane is None
        click(tab.gallery, 9)  # a second click takes it back
        tab.refresh()
        assert "picked 1 of 3: [4]" in tab.message.value and tab.plane is None
        for index in (9, 11):
            click(tab.gallery, index)
        tab.refresh()
        assert isinstance(tab.plane, DecisionPlane) and tab.plane.indices == [4, 9, 11]
        assert [f.value for f in tab.index_fields] == [4, 9, 11]
        plane = tab.plane
        wait_until(lambda: (plane.deliver_answers(), plane.refresh(), plane.resolution_drawn == 64)[2], 60)
        assert plane.corner_probabilities is not None and plane.corner_probabilities.shape == (3, 10)
        # typed indices: refused with a reason until they are three different ones
        tab.index_fields[0].value, tab.index_fields[1].value, tab.index_fields[2].value = 1, 1, 2
        tab.draw_button.click()
        tab.refresh()
        assert "three different indices needed" in tab.message.value and tab.plane is plane
        tab.index_fields[1].value = 3
        tab.draw_button.click()
        tab.refresh()
        assert tab.plane is not plane and tab.plane.indices == [1, 3, 2] and plane.closed
        # the embedding explorer's selection
        tab.explorer_button.click()
        tab.refresh()
        assert "no Embeddings view is open" in tab.message.value
        explorer = board.view("Embeddings")
        explorer.wait()
        tab.explorer_button.click()
        tab.refresh()
        assert "select at least three points" in tab.message.value and "0 selected" in tab.message.value
        explorer.selected = [7, 20, 5, 6]
        tab.explorer_button.click()
        tab.refresh()
        assert tab.plane.indices == [5, 6, 7]  # the first three of the selection, in index order
        tab.clear_button.click()
        tab.refresh()
        assert tab.plane is None and tab.plane_box.children == () and "pick three images" in tab.message.value
    finally:
        board.close()
    assert tab.closed


def test_images_that_coincide_are_refused_with_the_planes_reason():
    images = torch.rand(8, 1, 28, 28)
    images[3] = images[2]
    data = TensorDataset(images, torch.randint(0, 10, (8,)))
    session = nbviz.TrainingSession(SmallCNN(), DataLoader(data, batch_size=4), DataLoader(data, batch_size=8))
    tab = DecisionPlaneTab(session)
    try:
        for i in (1, 2, 3):
            click(tab.gallery, i)
        tab.refresh()
        assert tab.plane is None and "coincide" in tab.message.value and "pick other images" in tab.message.value
    finally:
        tab.close()
