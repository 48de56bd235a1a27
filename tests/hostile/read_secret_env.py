# Reads GRADER_SECRET_KEY from its own environment -> the child's environment is an allow-list: no key.
import os
for _key, _value in os.environ.items():
    if _key.startswith("GRADER_"):
        hostile_win(f"saw {_key}={_value}")
