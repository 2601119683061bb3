"""Correct: nbviz's reference SmallCNN (BatchNorm, nested blocks)."""
import nbviz
from _common import standard

EXPECT: set = set()
WHERE = None


def build():
    return standard(nbviz.models.SmallCNN(), lr=0.01)
