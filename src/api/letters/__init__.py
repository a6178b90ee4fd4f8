"""Letters (R9, R17): rendering to PDF/A, the delivery channels, the outbox and the exports."""
