"""Correct: nbviz's reference SmallCNN (BatchNorm, nested blocks)."""
from _common import standard

import nbviz

EXPECT: set = set()
WHERE = None


def build():
    return standard(nbviz.models.SmallCNN(), lr=0.01)
