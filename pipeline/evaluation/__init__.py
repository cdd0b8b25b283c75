"""Prequential and task-matrix evaluation of strategies, with reports and plots."""
