"""Readable output: the run report (markdown and terminal), terminal tables and the leaderboard page."""
