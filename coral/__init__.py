"""coral: label notebook cells with their data-analysis stage from weak supervision.

The pipeline, one package per step:
notebooks (``coral.corpora``) -> parsed cells -> label matrix (``coral.labeling``)
-> encoders (``coral.encoders``) -> predictions -> studies (``coral.studies``).
The jobs (``coral.jobs``: train, predict, evaluate, run) sit on top and use the stages;
``coral.stages`` and ``coral.problems`` are the ground floor every package uses.
"""

from coral.stages import ABSTAIN, STAGES, Stage

__version__ = "0.1.0"
__all__ = ["ABSTAIN", "STAGES", "Stage", "__version__"]
