"""Online learning: featurization, regressors, strategies, replay buffers and drift detectors."""
