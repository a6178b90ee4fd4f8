"""Read models: projections of the event log, one module per question people ask of it."""
