"""perfstream: continually learning performance models for HPC systems."""

__version__ = "0.1.0"
