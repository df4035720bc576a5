"""The group level's statistics: participants' first-level effects combined per cell."""
