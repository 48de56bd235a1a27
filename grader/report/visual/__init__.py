"""Pictures of what convolutions do: `grade journey` (a learner's model, layer by layer) and
`grade kernel` (one kernel on one image)."""
