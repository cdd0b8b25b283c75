"""The Kafka shell around the pure Processor: decoding, dead letters, checkpoints, metrics, faust app.

Only :mod:`pipeline.service.app`, :mod:`pipeline.service.store`, :mod:`pipeline.service.admin` and
:mod:`pipeline.service.tools` talk to Kafka; the other modules here are pure and tested without a broker.
"""
