"""A content-addressed score cache shared by every run and task (``$RMBENCH_CACHE/scores/``).

A model's score of an example is stored under the settings that decide it and the example's content
(:mod:`rmbench.cache.key`), in one SQLite file safe for concurrent runs (:mod:`rmbench.cache.store`);
the runner reads it before building a model and scores only what is missing
(:mod:`rmbench.cache.lookup`). ``rmbench run --no-cache`` neither reads nor writes it;
``rmbench cache info`` / ``rmbench cache prune`` inspect and trim it. See docs/cache.md.
"""
