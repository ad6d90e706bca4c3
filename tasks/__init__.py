"""Tasks: one file per scenario family; scenarios themselves are data in tasks/scenarios."""
