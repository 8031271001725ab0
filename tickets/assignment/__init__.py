"""Assignment routing: which agent a ticket goes to (round-robin, load, skills), first-contact
ownership, and escalation paths between teams."""
