# Loops forever at import -> stopped at the describe budget: a timeout failure, no process left.
while True:
    pass
