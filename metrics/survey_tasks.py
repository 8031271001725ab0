"""The survey tasks (thin: the work is in metrics.surveys)."""
