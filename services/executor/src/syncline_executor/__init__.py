"""The executor service: claims runs, moves the data, checks in, honours cancellation, reports the outcome."""
