"""The measure step: accuracies from the trusted trainer's outputs and the labels only the parent holds."""
