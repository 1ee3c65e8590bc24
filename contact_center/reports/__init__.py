"""Statistics and reports: interval counters kept from routing events, reports, staffing."""
