"""The SLA engine. `calendar` is its pure core: business-hours calendars and the arithmetic of open
time (adding business time to an instant, measuring it between two instants), with no database."""
