"""Operations: backup and restore, health, Prometheus figures and structured logs."""
