"""REST API v1: thin entry points over tickets.selectors, helpdesk.permissions and tickets.services."""
