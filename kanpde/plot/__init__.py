"""Matplotlib figures of kanpde objects (network diagrams, ...); matplotlib is imported only in this sub-package."""
