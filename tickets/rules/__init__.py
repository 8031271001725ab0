"""Business rules: triggers and automations (conditions → actions), their engine and admin pages."""
