"""One widget class per view, each usable alone and as a Dashboard tab."""
