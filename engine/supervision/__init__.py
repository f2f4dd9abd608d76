"""Supervision (督查): warning and overdue figures, escalation levels and the weekly bulletin."""
