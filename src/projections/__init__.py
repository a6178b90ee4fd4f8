"""Read models: projections of the event log into the views people work from."""
