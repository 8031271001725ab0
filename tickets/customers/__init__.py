"""Customer 360: the customer and organization pages, health score, duplicate customers."""
