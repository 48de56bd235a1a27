"""The `functions` kind: NumPy functions checked against Keras layers (the convolution challenge).

spec.py               the [functions] and [checks.*] tables of its specs
grade.py              its chain: read, call the functions in the sandbox, check, result
child.py              the sandboxed child that calls the learner's functions
convolution_suite.py  the convolution challenge's cases and reference answers"""
