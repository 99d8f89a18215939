"""Commands that read run directories, never models: compare, gate, agree and leaderboard."""
