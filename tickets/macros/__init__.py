"""Macros: canned responses with safe placeholders and field actions."""
