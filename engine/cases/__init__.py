"""Cases: the commands that change them, their hash-chained history, stored state and work items."""
