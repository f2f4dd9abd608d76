"""What auditors read: replay of recorded commands, step-through, the case record, chain integrity, event logs."""
