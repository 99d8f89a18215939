"""RFEval: reasoning faithfulness under counterfactual reasoning intervention (issue 14).

Everything of the task lives here:

* :mod:`~rmbench.adapters.rfeval.components` splits a generation into reasoning, explanation and answer;
* :mod:`~rmbench.adapters.rfeval.judgement` parses the judge's JSON reply strictly;
* :mod:`~rmbench.adapters.rfeval.metrics` holds the authors' definitions as pure functions
  (effective stances, stance consistency, causal influence, the RF indicator, contrast);
* :mod:`~rmbench.adapters.rfeval.adapter` runs the two stages (generation, then judging) over any
  generation backend; :mod:`~rmbench.adapters.rfeval.provided` reads generations and judgements
  brought from files; :mod:`~rmbench.adapters.rfeval.grading` turns a prediction into per-item metrics;
* :mod:`~rmbench.adapters.rfeval.association` fits the accuracy-faithfulness regression across runs.

The protocol follows the authors' public code (AIDASLab/RFEval: ``inference.py``, ``evaluation.py``,
``compute_rf.py``); this is an independent implementation. See docs/rfeval.md.
"""
