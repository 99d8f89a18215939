"""CoT faithfulness: hinted prompts, generation, answer reading, three classifiers of hint acknowledgement,
and how much the faithfulness rate depends on the classifier.

prompting (hinted prompts and controls) -> adapter (generate, read answers, influenced?, classify) ->
grading (per-item metrics) -> sensitivity (rates, kappa, McNemar, ranks: the summary's ``faithfulness``
block) -> report (the report.md section). answers, classifiers and patterns.json hold the reading rules.
"""
