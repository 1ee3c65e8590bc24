"""Demo data for `contact-center demo`."""
