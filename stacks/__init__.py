"""The composition layer: which components a stack declares, wired from its settings, and the stack's outputs.

Layers point down only: stacks → components → fleet (pure). Nothing below imports from here.
"""
