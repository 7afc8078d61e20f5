"""beacon-fleet's pure logic: config schema, typed settings, the model catalog and naming.

Nothing here declares a resource; components/ does, and only when __main__.py asks it to.
"""
