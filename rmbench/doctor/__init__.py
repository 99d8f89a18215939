"""``rmbench doctor``: measured checks of a reward-model set-up (batching, BOS, chat template, pad
token, truncation, dtype, score head), each a :class:`~rmbench.doctor.checks.CheckResult`.

* :mod:`~rmbench.doctor.checks`: the result record and statuses;
* :mod:`~rmbench.doctor.numeric`: score changes and decision flips across batchings and padding sides;
* :mod:`~rmbench.doctor.tokens`: chat template, BOS, pad token, truncation;
* :mod:`~rmbench.doctor.device`: dtype on the device, random score head;
* :mod:`~rmbench.doctor.diagnose`: loads the model as ``rmbench run`` does and runs them on a sample;
* :mod:`~rmbench.doctor.setup`: the cheap checks a run records, and the report's "Set-up" section.

See docs/doctor.md.
"""
