"""Showing stage predictions where people look: written back into the notebooks
(``annotate``), as a browsable HTML report (``report``) and in the terminal (``terminal``).

``labelled`` is the one bridge to the predicting layer: it reads notebooks, predicts their
code cells and hands each notebook over with the stage of every code cell.
"""
