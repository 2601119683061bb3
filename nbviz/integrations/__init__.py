"""Callbacks for training frameworks; each module imports its framework only when imported.

``nbviz.integrations.lightning`` needs ``pip install nbviz[lightning]``;
``nbviz.integrations.transformers`` needs ``pip install nbviz[transformers]``.
"""
