"""Reports, figures and the methods paragraph, drawn from the values the outputs record."""
