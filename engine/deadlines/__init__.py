"""Deadlines: the working-day calendar, BPMN timers on command time, and the scheduler that fires them."""
