"""Statistics layer of rmbench: metrics, bootstrap CIs, tests, agreement.

Only numpy is imported eagerly; scipy is imported lazily by the few
functions that need a distribution function.  Undefined quantities are
``None`` (see :mod:`rmbench.stats.estimates`); malformed input raises
``ValueError``.
"""

from rmbench.stats.agreement import (
    cohen_kappa,
    cohen_kappa_ci,
    fleiss_kappa,
    fleiss_kappa_from_ratings,
    kappa_band,
    kappa_from_confusion,
    percent_agreement,
)
from rmbench.stats.bootstrap import (
    SumStatistic,
    bootstrap_ci,
    mean_ci,
    mean_statistic,
    paired_bootstrap_diff,
    ratio_of_sums,
)
from rmbench.stats.correlation import kendall_tau_b, spearman
from rmbench.stats.estimates import PRF, Estimate, KappaResult, McNemarResult
from rmbench.stats.metrics import (
    accuracy,
    auroc,
    balanced_accuracy,
    precision_recall_f1,
    wilson_interval,
)
from rmbench.stats.significance import (
    benjamini_hochberg,
    holm,
    mcnemar,
    min_detectable_effect,
    min_detectable_effect_from_data,
)

__all__ = [
    "PRF",
    "Estimate",
    "KappaResult",
    "McNemarResult",
    "SumStatistic",
    "accuracy",
    "auroc",
    "balanced_accuracy",
    "benjamini_hochberg",
    "bootstrap_ci",
    "cohen_kappa",
    "cohen_kappa_ci",
    "fleiss_kappa",
    "fleiss_kappa_from_ratings",
    "holm",
    "kappa_band",
    "kappa_from_confusion",
    "kendall_tau_b",
    "mcnemar",
    "mean_ci",
    "mean_statistic",
    "min_detectable_effect",
    "min_detectable_effect_from_data",
    "paired_bootstrap_diff",
    "percent_agreement",
    "precision_recall_f1",
    "ratio_of_sums",
    "spearman",
    "wilson_interval",
]
