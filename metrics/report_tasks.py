"""The scheduled report tasks (thin: the work is in metrics.reports)."""
