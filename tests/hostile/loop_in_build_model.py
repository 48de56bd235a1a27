# Loops forever in build_model() -> stopped at the describe budget.
def build_model():
    while True:
        pass
