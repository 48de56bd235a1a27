"""The kinds of challenge beyond the model kind, one folder each.

The model kind (a Keras model: describe, train, measure) is the pipeline's own chain
(grader/pipeline/model.py); a kind registers its grading function in `grader.pipeline.KINDS`."""
