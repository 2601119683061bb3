"""Building blocks of the views: the js/ front-ends (image grid, scatter) and input widgets
that check what the front end sends (:mod:`nbviz.widgets.guarded`)."""
