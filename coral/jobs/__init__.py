"""Jobs: the commands that use several stages at once, above the stage packages.

``train`` (corpus -> weak labels from the heuristics stage model -> a fitted encoder),
``predict`` (corpus -> stage predictions with any stage model), ``evaluate`` (predictions
against gold labels) and ``run`` (the main job: predictions and studies in one go). Stage
packages (``coral.corpora``, ``coral.labeling``, ``coral.encoders``, ``coral.studies``)
never import from here.
"""
