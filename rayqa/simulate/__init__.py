"""Defect simulation: pristine media in, media with defects at known places plus labels out.

Every injector is a pure function over arrays with a parameter range, returning the damaged
signal and the :class:`~rayqa.simulate.labels.Label` rows that say what was done, in the
findings' own terms (defect name, start_s, end_s, details).
"""
