"""leaderboard stage of GeoGen (see README.md)."""
