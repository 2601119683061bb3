"""Writes notebooks/07_playground.ipynb (run: python notebooks/_build/07_playground.py)."""

from common import write_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

CELLS = [
    new_markdown_cell("""# A playground for decision boundaries

A small network learns to separate two classes of points in the plane. The **Playground**
below is one widget for a lesson: pick a dataset, the input features, the hidden layers,
the learning rate and regularisation, then press **Play** and watch the boundary bend.
Underneath it is an ordinary `nbviz.TrainingSession` (`play.session`), so every other nbviz
view works on it too. The data is generated here; nothing is downloaded.

Colours: orange is class 0, blue class 1; pale means the network is unsure. Dots with a dark
rim are training points, with a white rim validation points. The small tiles are the hidden
units' own maps (blue negative, red positive): click one to enlarge it."""),
    new_code_cell("""import os, time
import nbviz

EPOCHS = 3 if os.environ.get("NBVIZ_FAST") else 40   # NBVIZ_FAST=1: a quick run (tests, CI)

play = nbviz.Playground(dataset="spiral", features=["x1", "x2", "sin(x1)", "sin(x2)"],
                        hidden=[8, 8], lr=0.03)
play"""),
    new_markdown_cell("""Press **Play** above (or run the next cell, which trains a fixed number of epochs from
code). Everything the buttons do is available in code as well."""),
    new_code_cell("""def train(play, epochs, timeout=120):
    \"\"\"Train ``epochs`` more epochs, wait, and return (train loss, validation loss).\"\"\"
    session = play.session
    target = session.step_count + epochs * session.steps_per_epoch
    session.step(epochs * session.steps_per_epoch)
    deadline = time.monotonic() + timeout
    while (session.step_count < target or session.state != "paused") and time.monotonic() < deadline:
        time.sleep(0.05)
    return session.history.last("train_epoch_loss"), session.history.last("val_loss")

train_loss, val_loss = train(play, EPOCHS)
print(f"spiral after {EPOCHS} epochs: train loss {train_loss:.3f}, validation loss {val_loss:.3f}")"""),
    new_markdown_cell("""## 1. Linear versus nonlinear features

Without hidden layers the network is a linear classifier of its input features. On the
*circles* data, x₁ and x₂ alone cannot separate an inner disc from an outer ring; x₁² and x₂²
can (the boundary is a circle, which is linear in the squares)."""),
    new_code_cell("""linear = nbviz.Playground(dataset="circles", features=["x1", "x2"], hidden=[])
squares = nbviz.Playground(dataset="circles", features=["x1^2", "x2^2"], hidden=[])
for name, lesson in [("x1, x2", linear), ("x1^2, x2^2", squares)]:
    print(f"{name:>11}: train loss, validation loss = {train(lesson, EPOCHS)}")
squares"""),
    new_markdown_cell("""## 2. Depth

With only x₁ and x₂, hidden layers have to build the curved boundary themselves. Compare a
network without hidden layers to one with two layers of eight units on the *xor* data: look at
the unit maps of the deeper one: the first layer cuts the plane with straight lines, later
layers combine them."""),
    new_code_cell("""shallow = nbviz.Playground(dataset="xor", features=["x1", "x2"], hidden=[])
deep = nbviz.Playground(dataset="xor", features=["x1", "x2"], hidden=[8, 8], activation="tanh")
for name, lesson in [("no hidden layer", shallow), ("8 + 8 tanh units", deep)]:
    print(f"{name:>16}: train loss, validation loss = {train(lesson, EPOCHS)}")
deep"""),
    new_markdown_cell("""## 3. Noise, overfitting and regularisation

With much noise and few training points (10 %), a big network can fit the noise: the training
loss keeps falling while the validation loss does not. L2 regularisation (weight decay)
penalises large weights and keeps the boundary smoother. Change `reg_rate` live in the widget
(or `play.reg_rate.value = ...`): it applies at the next batch."""),
    new_code_cell("""settings = dict(dataset="xor", noise=0.5, train_percent=10, hidden=[8, 8, 8], lr=0.03,
                features=["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"])
plain = nbviz.Playground(**settings)
regular = nbviz.Playground(**settings, regularization="L2", reg_rate=0.01)
for name, lesson in [("no regularisation", plain), ("L2, rate 0.01", regular)]:
    print(f"{name:>17}: train loss, validation loss = {train(lesson, EPOCHS * 3 // 2)}")
# The training loss includes the penalty; the validation loss is the plain cross-entropy.
regular"""),
    new_markdown_cell("""## Take it home: the same network in plain PyTorch

**Export code** (or `play.export_code()`) writes the network as an `nn.Module` and its
training loop; under the same seed it trains to the same losses as the playground."""),
    new_code_cell("""print(play.export_code(epochs=EPOCHS))"""),
    new_code_cell("""for lesson in (play, linear, squares, shallow, deep, plain, regular):
    lesson.session.stop()   # stop the background threads (the widgets stay as they are)"""),
]


if __name__ == "__main__":
    write_notebook(CELLS, "07_playground.ipynb")
