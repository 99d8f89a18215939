"""``rmbench publish``: a run directory or a leaderboard file as a Hugging Face Hub dataset repository.

The steps, one module each: :mod:`~rmbench.publish.target` reads what is published,
:mod:`~rmbench.publish.tables` turns items (or leaderboard entries) into parquet files with pandas,
:mod:`~rmbench.publish.card` writes the dataset card, :mod:`~rmbench.publish.model_index` the
model-card evaluation results, :mod:`~rmbench.publish.bundle` assembles every file,
:mod:`~rmbench.publish.folder` writes them to a folder (``--dry-run``) and :mod:`~rmbench.publish.hub`
uploads that folder. The upload is the dry-run folder, so what the tests check is what is uploaded.
See ``docs/publishing.md``.
"""
