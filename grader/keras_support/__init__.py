"""Everything that touches Keras outside the two processes that run models: backends, a fast
import for checks, reading saved models safely, describing a model."""
