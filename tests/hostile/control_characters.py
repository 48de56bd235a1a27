# Prints terminal escapes and raises with them in the message -> stripped from every output and report.
import sys

sys.stdout.write("\x1b[2J\x1b[31mHOSTILE-ESC\x1b]0;owned\x07\r\n")


def make_callbacks(target_accuracy):
    raise ValueError("\x1b[2Jscreen cleared \x1b[31mred\u202eoverride")
